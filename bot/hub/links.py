"""A Hub page's address, pasted where an id goes.

The lesson has students browse huggingface.co; what they bring back to chat is the address
of the page they were on (`https://huggingface.co/distilbert/distilgpt2/tree/main`), not
the id it holds. `huggingface_hub.parse_hf_uri` reads every page address of a repo; this
module says which repo that is, or what to copy instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from huggingface_hub import parse_hf_uri
from huggingface_hub.errors import HfUriError

from bot.hub.errors import HubError

RepoKind = str  # "model" or "dataset"
_HOSTS = ("huggingface.co", "hf.co")
# Typed by hand or kept by an old bookmark; the site redirects it, the parser refuses it.
_WWW = "www."
# huggingface.co's own one-word pages, none of them a model.
_SITE_PAGES = frozenset({"models", "datasets", "spaces", "docs", "blog", "papers", "learn"})
_LINK_STARTS = ("http://", "https://", "hf://", "huggingface.co/", "hf.co/", "www.huggingface.co/")
# Where each kind of repo is opened in chat.
_OPENED_WITH = {"model": "/search model:{}", "dataset": "/dataset id:{}"}
_PAGE_OF = {"model": "model's", "dataset": "dataset's", "space": "Space's (an app)"}


# The Hub site's list orders, as /search and /dataset name them.
_SITE_SORTS = {
    "downloads": "downloads",
    "likes": "likes",
    "trending": "trending",
    "created": "recent",
    "modified": "recent",
}


@dataclass(frozen=True)
class ListPage:
    """What a link to the Hub's models or datasets list filters by ("" where it does not)."""

    words: str = ""
    task: str = ""
    sort: str = ""
    library: str = ""


@dataclass(frozen=True)
class ViewerPage:
    """A link to a dataset's viewer: which dataset, and the config and split it shows ("" where
    the address names none)."""

    dataset: str
    config: str = ""
    split: str = ""


class LinkError(HubError, ValueError):
    """A link that holds no repo of the kind wanted (an option's bad value, too)."""


def is_link(text: str) -> bool:
    return text.strip().lower().startswith(_LINK_STARTS)


def _canonical(link: str) -> str:
    """The link as the Hub's own pages write it: a scheme, and no "www." before the host."""
    link = link.strip()
    parts = urlsplit(link if "://" in link else f"https://{link}")
    host = parts.hostname or ""
    if host.startswith(_WWW) and host.removeprefix(_WWW) in _HOSTS:
        parts = parts._replace(netloc=host.removeprefix(_WWW))
    return parts.geturl()


def list_page(text: str, kind: RepoKind) -> ListPage | None:
    """The filters of a link to the Hub's list of models (huggingface.co/models?
    pipeline_tag=text-classification&sort=likes) or of datasets, the page the lesson has
    students on; None for any other text."""
    address = _address(text)
    if address is None or address[0] != [f"{kind}s"]:
        return None
    query = {name: values[0].strip() for name, values in parse_qs(address[1]).items()}
    # The datasets page names its task filter "task_categories:<task>".
    task = query.get("pipeline_tag") or query.get("task_categories", "").rpartition(":")[2]
    return ListPage(
        words=query.get("search", ""),
        task=task,
        sort=_SITE_SORTS.get(query.get("sort", ""), ""),
        library=query.get("library", ""),
    )


def viewer_page(text: str) -> ViewerPage | None:
    """The dataset, config and split of a link to its viewer (huggingface.co/datasets/
    stanfordnlp/imdb/viewer/plain_text/train), the page where students look at its rows;
    None for any other text. parse_hf_uri reads repo and file pages, not this one."""
    path = (_address(text) or ([], ""))[0]
    if path[:1] != ["datasets"] or "viewer" not in path:
        return None
    at = path.index("viewer")
    if at not in (2, 3):  # datasets/<name>/viewer, datasets/<owner>/<name>/viewer
        return None
    config, split = [*path[at + 1 : at + 3], "", ""][:2]
    return ViewerPage("/".join(path[1:at]), config, split)


def _address(text: str) -> tuple[list[str], str] | None:
    """The path's parts and the query of a link to huggingface.co; None for other text."""
    if not is_link(text):
        return None
    parts = urlsplit(_canonical(text))
    if parts.hostname not in _HOSTS:
        return None
    return [part for part in parts.path.split("/") if part], parts.query


def repo_id(text: str, kind: RepoKind) -> str:
    """`text` itself, or, when it is a link, the id of the `kind` repo whose page it shows.

    Raises LinkError for a link to anything else (another site, a Space, a model where a
    dataset goes, a page that is not a repo's)."""
    if not is_link(text):
        return text
    link = text.strip()
    found = _repo(_canonical(link))
    if found is not None and found[0] == kind:
        return found[1]
    if found is not None and found[0] in _OPENED_WITH:
        todo = f"Open it with {_OPENED_WITH[found[0]].format(found[1])}."
    else:
        todo = f"Copy the address of the {_PAGE_OF[kind]} page (huggingface.co/"
        todo += "datasets/" if kind == "dataset" else ""
        todo += "<owner>/<name>), or type its id."
    page = f"a {_PAGE_OF.get(found[0], found[0])}" if found else f"not a {_PAGE_OF[kind]}"
    raise LinkError(f"{link} is {page} page.", todo)


def _repo(link: str) -> tuple[str, str] | None:
    """The type and id of the repo whose page `link` shows, if it shows one."""
    try:
        found = parse_hf_uri(link)
    except HfUriError:
        # Another site, no repo's page, a repo's page the parser does not read (a dataset's
        # viewer, discussions), or a one-word id from before namespaces (huggingface.co/
        # gpt2, /datasets/imdb), which the Hub still serves and the parser leaves out.
        pass
    else:
        return found.type, found.id
    viewer = viewer_page(link)
    if viewer is not None:
        return "dataset", viewer.dataset
    path = (_address(link) or ([], ""))[0]
    if len(path) == 2 and path[0] == "datasets":
        return "dataset", path[1]
    if len(path) == 1 and path[0] not in _SITE_PAGES:
        # A user's page looks the same (huggingface.co/google): the Hub then says there
        # is no such model.
        return "model", path[0]
    return None
