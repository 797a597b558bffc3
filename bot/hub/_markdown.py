"""Just enough Markdown for reading Hub cards: front matter, headings, code fences, stubs.

Internal to bot.hub.cards. Real cards are messy (headings indented by two spaces, H1s used
as section titles, HTML headings, templates full of "[More Information Needed]"), so this
is a tolerant line scanner rather than a full CommonMark parser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

import yaml  # type: ignore[import-untyped]


class SectionStatus(StrEnum):
    PRESENT = "present"
    PLACEHOLDER = "placeholder"
    MISSING = "missing"


_RANK = {SectionStatus.MISSING: 0, SectionStatus.PLACEHOLDER: 1, SectionStatus.PRESENT: 2}


def best(a: SectionStatus, b: SectionStatus) -> SectionStatus:
    return a if _RANK[a] >= _RANK[b] else b


# Same block the Hub and huggingface_hub.repocard read.
_YAML_BLOCK = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def split_front_matter(text: str) -> tuple[dict[str, object], bool, str | None, str]:
    """Return (metadata, has_front_matter, error, body); never raises."""
    text = text.lstrip("\ufeff")
    match = _YAML_BLOCK.search(text)
    if match is None:
        return {}, False, None, text
    body = text[match.end() :]
    try:
        data = yaml.load(match.group(2), Loader=_LOADER)
    # Not only YAMLError: an impossible date such as 2023-02-30 raises ValueError, deep
    # nesting RecursionError. A card must never take the bot down.
    except Exception as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return {}, True, f"{type(exc).__name__}: {first_line}"[:200], body
    if data is None:
        return {}, True, None, body
    if not isinstance(data, dict):
        return {}, True, f"front matter is a {type(data).__name__}, not a mapping", body
    return {str(k): v for k, v in data.items()}, True, None, body


@dataclass(frozen=True)
class Section:
    title: str
    key: str
    level: int
    status: SectionStatus


# Tokens are NamedTuples: a card has hundreds of lines and frozen dataclasses cost 3x more.
class _Heading(NamedTuple):
    level: int
    title: str


class _Code(NamedTuple):
    info: str
    content: str


# Weight of a text line: 0 nothing (blank, rule, markup only), 1 a template stub, 2 content.
class _Text(NamedTuple):
    raw: str
    weight: int


_Token = _Text | _Heading | _Code

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+|(?=[^\s#]))(.*?)(?:[ \t]+#+)?[ \t]*$")
_HTML_HEADING = re.compile(r"^\s*<h([1-6])\b[^>]*>(.*?)</h\1>\s*$", re.IGNORECASE)
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_LIST_OR_TABLE = re.compile(r"^\s*(?:[-*+>|]|\d+[.)])")
_RULE = re.compile(r"^\s*(?:[-*_][ \t]*){3,}$")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"<[^>]+>")
_MARKER = re.compile(r"^\s*(?:>\s*)*(?:[-*+]|\d+[.)])?\s*")
_MARKER_STARTS = frozenset(">-*+0123456789")
_LABEL = re.compile(r"^(?:\*\*|__)?[^:*_]{1,80}:(?:\*\*|__)?\s+")
_PLACEHOLDER = re.compile(
    r"^(?:\[?\s*more information needed\s*\]?"
    r"|(?:tbd|tba|todo|wip|n/a|coming soon|to be (?:added|announced|determined|done|updated)"
    r"|needs? more information|more (?:info|information|details) (?:coming|to come|soon))\b.*"
    r"|\.{3}|…)$"
)
_BIBTEX_START = re.compile(r"^\s*@[a-z]+\s*\{", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]{2,}")


def normalize_title(title: str) -> str:
    text = _LINK.sub(r"\1", _TAG.sub(" ", title)).lower()
    text = re.sub(r"[\W_]+", " ", text)
    return " ".join(text.split())


def _clean(line: str) -> str:
    text = line.strip()
    # Most lines hold no markup: skip the substitutions for them (4,000 cards in ~1 s).
    if "](" in text:
        text = _LINK.sub(r"\1", _IMAGE.sub(" ", text))
    if "<" in text:
        text = _TAG.sub(" ", text)
    if text[:1] in _MARKER_STARTS:
        text = _MARKER.sub("", text)
    return text.strip()


def _stub(text: str) -> bool:
    # "**Developed by:** [More Information Needed]": the label is template, not content.
    if ":" in text:
        text = _LABEL.sub("", text, count=1)
    text = text.strip(" \t*_`").rstrip(".!").strip().lower()
    return bool(_PLACEHOLDER.match(text))


def is_placeholder(line: str) -> bool:
    return _stub(_clean(line))


def _weigh(line: str) -> int:
    if line[:1] in "-*_ " and _RULE.match(line):
        return 0
    text = _clean(line)
    if not text:
        return 0
    # Template stubs are short; a long line is content whatever it starts with.
    return 1 if len(text) < 200 and _stub(text) else 2


def _status(tokens: Sequence[_Token]) -> SectionStatus:
    """PRESENT if any real content; PLACEHOLDER if empty or only template stubs."""
    for token in tokens:
        if isinstance(token, _Code):
            if token.content.strip():
                return SectionStatus.PRESENT
        elif isinstance(token, _Text) and token.weight == 2:
            return SectionStatus.PRESENT
    return SectionStatus.PLACEHOLDER


def _has_content(tokens: Sequence[_Token]) -> bool:
    return any(
        (isinstance(t, _Code) and t.content.strip()) or (isinstance(t, _Text) and t.weight)
        for t in tokens
    )


def _is_bibtex(code: _Code) -> bool:
    info = code.info.strip().lower()
    return info in {"bibtex", "bib", "biblatex"} or bool(_BIBTEX_START.match(code.content))


def _tokenize(body: str) -> list[_Token]:
    tokens: list[_Token] = []
    fence: tuple[str, int, str] | None = None
    buffer: list[str] = []
    if "<!--" in body:
        body = _COMMENT.sub("", body)
    for line in body.splitlines():
        lead = line.lstrip()[:1]
        if fence is not None:
            closing = _FENCE.match(line) if lead == fence[0] else None
            if (
                closing
                and closing.group(1)[0] == fence[0]
                and len(closing.group(1)) >= fence[1]
                and not closing.group(2).strip()
            ):
                tokens.append(_Code(fence[2], "\n".join(buffer)))
                fence, buffer = None, []
                continue
            buffer.append(line)
            continue
        if lead in ("`", "~"):
            opening = _FENCE.match(line)
            if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
                fence, buffer = (opening.group(1)[0], len(opening.group(1)), opening.group(2)), []
                continue
        elif lead in ("#", "<"):
            atx = _ATX.match(line) if lead == "#" else _HTML_HEADING.match(line)
            if atx:
                level = len(atx.group(1)) if lead == "#" else int(atx.group(1))
                tokens.append(_Heading(level, _clean(atx.group(2)).strip(" *_`")))
                continue
        elif lead in ("=", "-") and tokens and _SETEXT.match(line):
            previous = tokens[-1]
            if (
                isinstance(previous, _Text)
                and previous.weight
                and not _LIST_OR_TABLE.match(previous.raw)
            ):
                level = 1 if lead == "=" else 2
                tokens[-1] = _Heading(level, _clean(previous.raw).strip(" *_`"))
                continue
        tokens.append(_Text(line, _weigh(line)))
    if fence is not None:  # an unclosed fence still holds code
        tokens.append(_Code(fence[2], "\n".join(buffer)))
    return tokens


@dataclass(frozen=True)
class Document:
    title: str | None
    sections: tuple[Section, ...]
    lead: tuple[str, ...]
    lead_heading_key: str | None
    has_usage_code: bool
    has_bibtex: bool

    def has_lead_prose(self, named: Sequence[re.Pattern[str]]) -> bool:
        """Free text before the first section, e.g. under the card's H1 title."""
        if self.lead_heading_key is not None and any(
            p.search(self.lead_heading_key) for p in named
        ):
            return False
        for line in self.lead:
            text = _clean(line)
            if len(_WORD.findall(text)) >= 3 and not _stub(text):
                return True
        return False


def _span_ends(tokens: Sequence[_Token], heading_at: Sequence[int]) -> dict[int, int]:
    """For each heading, where its subtree ends: the next heading of the same or higher level."""
    ends: dict[int, int] = {}
    open_: list[tuple[int, int]] = []
    for index in heading_at:
        heading = tokens[index]
        assert isinstance(heading, _Heading)
        while open_ and open_[-1][0] >= heading.level:
            ends[open_.pop()[1]] = index
        open_.append((heading.level, index))
    for _, index in open_:
        ends[index] = len(tokens)
    return ends


def _sections(
    tokens: Sequence[_Token], heading_at: Sequence[int]
) -> Iterator[tuple[Section, Sequence[_Token]]]:
    """Each section and its whole span (its text and its subsections)."""
    span_ends = _span_ends(tokens, heading_at)
    for n, start in enumerate(heading_at):
        heading = tokens[start]
        assert isinstance(heading, _Heading)
        own_end = heading_at[n + 1] if n + 1 < len(heading_at) else len(tokens)
        own = tokens[start + 1 : own_end]
        # A heading with no text of its own ("## Training" then "### Training data") is
        # judged by its subsections; one with text is judged by that text alone, because
        # cards often put every section under an H1.
        chosen = own if _has_content(own) else tokens[start + 1 : span_ends[start]]
        key = normalize_title(heading.title)
        span = tokens[start + 1 : span_ends[start]]
        yield Section(heading.title, key, heading.level, _status(chosen)), span


def section_texts(body: str) -> list[tuple[Section, str]]:
    """Every section of a card body with its text as plain readable lines: markup, images
    and HTML dropped, link text kept, list items as "• ", code kept as it is."""
    tokens = _tokenize(body)
    heading_at = [i for i, t in enumerate(tokens) if isinstance(t, _Heading)]
    return [(section, _plain(span)) for section, span in _sections(tokens, heading_at)]


def lead_text(body: str) -> str:
    """The card's introduction as plain lines: the text before its first section, and under
    its H1 title up to the next heading (what `Document.lead` holds, readable)."""
    tokens = _tokenize(body)
    heading_at = [i for i, t in enumerate(tokens) if isinstance(t, _Heading)]
    first = heading_at[0] if heading_at else len(tokens)
    chosen = list(tokens[:first])
    head = tokens[first] if heading_at else None
    if isinstance(head, _Heading) and head.level == 1:
        end = heading_at[1] if len(heading_at) > 1 else len(tokens)
        chosen += tokens[first + 1 : end]
    return _plain([t for t in chosen if not isinstance(t, _Code)])


def _plain(tokens: Sequence[_Token]) -> str:
    lines: list[str] = []
    joinable = False  # the last line is prose that the next prose line continues
    for token in tokens:
        if isinstance(token, _Heading):
            lines += ["", token.title, ""]
            joinable = False
        elif isinstance(token, _Code):
            lines += ["", token.content.strip("\n"), ""]
            joinable = False
        elif token.weight:
            item = bool(_LIST_OR_TABLE.match(token.raw)) and token.raw.strip()[:1] in "-*+"
            text = _clean(token.raw).replace("**", "").replace("__", "")
            # Markdown joins the lines of a paragraph (and a list item's wrapped lines).
            if joinable and not item and not _LIST_OR_TABLE.match(token.raw):
                lines[-1] += " " + text
            else:
                lines.append(("• " if item else "") + text)
            joinable = True
        else:
            lines.append("")
            joinable = False
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def parse(body: str) -> Document:
    tokens = _tokenize(body)
    heading_at = [i for i, t in enumerate(tokens) if isinstance(t, _Heading)]
    sections = [section for section, _ in _sections(tokens, heading_at)]

    first = heading_at[0] if heading_at else len(tokens)
    lead = [t.raw for t in tokens[:first] if isinstance(t, _Text) and t.weight]
    lead_key: str | None = None
    if heading_at:
        head = tokens[first]
        if isinstance(head, _Heading) and head.level == 1:
            end = heading_at[1] if len(heading_at) > 1 else len(tokens)
            lead += [t.raw for t in tokens[first + 1 : end] if isinstance(t, _Text) and t.weight]
            lead_key = normalize_title(head.title)
    title = next((s.title for s in sections if s.level == 1 and s.title), None)
    codes = [t for t in tokens if isinstance(t, _Code)]
    bibtex_text = any(
        isinstance(t, _Text) and "@" in t.raw and _BIBTEX_START.match(t.raw) for t in tokens
    )
    return Document(
        title=title,
        sections=tuple(sections),
        lead=tuple(lead),
        lead_heading_key=lead_key,
        has_usage_code=any(c.content.strip() and not _is_bibtex(c) for c in codes),
        has_bibtex=bibtex_text or any(_is_bibtex(c) for c in codes),
    )
