"""Plain-words explanations of the license ids found on Hugging Face Hub cards.

Pure data and one lookup function: no network, no I/O. The ids are the Hub's own
(https://huggingface.co/docs/hub/repositories-licenses); every id seen in the team's
hubdata (models.jsonl, datasets.jsonl, the 4,000-card corpus) is covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class LicenseFamily(StrEnum):
    PERMISSIVE = "permissive"
    COPYLEFT = "copyleft"
    USE_RESTRICTIONS = "open-with-use-restrictions"
    NON_COMMERCIAL = "non-commercial"
    UNKNOWN = "unknown/other"
    NONE = "none given"


@dataclass(frozen=True)
class LicenseExplanation:
    license_id: str | None
    name: str
    family: LicenseFamily
    summary: str
    # None where the answer depends on reading the actual terms.
    commercial_use: bool | None
    known: bool


_P = LicenseFamily.PERMISSIVE
_C = LicenseFamily.COPYLEFT
_R = LicenseFamily.USE_RESTRICTIONS
_N = LicenseFamily.NON_COMMERCIAL
_U = LicenseFamily.UNKNOWN

_PERMISSIVE_WORDS = "permissive open source: use, change, sell; keep the notice"
_PUBLIC_DOMAIN_WORDS = "public domain: use it for anything, no conditions"
_RAIL_WORDS = (
    "open with use restrictions: free to use and share, even commercially, but the license "
    "lists harmful uses you must not make, and you must pass those rules on"
)
_LLAMA_WORDS = (
    "open with use restrictions: Meta's community license; free for most uses, with an "
    "acceptable-use policy and extra terms for very large companies"
)
_NC_WORDS = "no commercial use; give credit"
_RESEARCH_WORDS = "research and non-commercial use only"

# id -> (short name, family, plain words, commercial use allowed?)
_TABLE: dict[str, tuple[str, LicenseFamily, str, bool | None]] = {
    "mit": ("MIT", _P, _PERMISSIVE_WORDS, True),
    "apache-2.0": (
        "Apache-2.0",
        _P,
        "permissive open source: use, change, sell; keep the notice and state your changes; "
        "includes a patent grant",
        True,
    ),
    "bsd": ("BSD", _P, _PERMISSIVE_WORDS, True),
    "bsd-2-clause": ("BSD-2-Clause", _P, _PERMISSIVE_WORDS, True),
    "bsd-3-clause": (
        "BSD-3-Clause",
        _P,
        _PERMISSIVE_WORDS + "; don't use the authors' names",
        True,
    ),
    "bsd-3-clause-clear": ("BSD-3-Clause-Clear", _P, _PERMISSIVE_WORDS + "; no patent grant", True),
    "afl-3.0": ("AFL-3.0", _P, _PERMISSIVE_WORDS, True),
    "artistic-2.0": (
        "Artistic-2.0",
        _P,
        "open source: use and sell; changed versions must be marked",
        True,
    ),
    "bsl-1.0": ("BSL-1.0", _P, _PERMISSIVE_WORDS, True),
    "isc": ("ISC", _P, _PERMISSIVE_WORDS, True),
    "zlib": ("Zlib", _P, _PERMISSIVE_WORDS + "; mark changed versions", True),
    "postgresql": ("PostgreSQL", _P, _PERMISSIVE_WORDS, True),
    "ncsa": ("NCSA", _P, _PERMISSIVE_WORDS, True),
    "ecl-2.0": ("ECL-2.0", _P, _PERMISSIVE_WORDS, True),
    "etalab-2.0": (
        "Etalab-2.0",
        _P,
        "open licence: reuse freely, even commercially; cite the source",
        True,
    ),
    "lppl-1.3c": (
        "LPPL-1.3c",
        _P,
        "open source: use and share; changed files need new names",
        True,
    ),
    "apple-ascl": ("Apple Sample Code License", _P, _PERMISSIVE_WORDS, True),
    "wtfpl": ("WTFPL", _P, "do what you want with it, no conditions", True),
    "unlicense": ("Unlicense", _P, _PUBLIC_DOMAIN_WORDS, True),
    "cc0-1.0": ("CC0-1.0", _P, _PUBLIC_DOMAIN_WORDS, True),
    "pddl": ("PDDL", _P, _PUBLIC_DOMAIN_WORDS + " (for data)", True),
    "odc-by": ("ODC-By", _P, "open data: use, change, share, even commercially; give credit", True),
    "cdla-permissive-1.0": (
        "CDLA-Permissive-1.0",
        _P,
        "open data: use, change, share; keep the notice",
        True,
    ),
    "cdla-permissive-2.0": (
        "CDLA-Permissive-2.0",
        _P,
        "open data: use, change, share; keep the notice",
        True,
    ),
    "cc-by-2.0": ("CC-BY-2.0", _P, "use, change, share, even commercially; give credit", True),
    "cc-by-2.5": ("CC-BY-2.5", _P, "use, change, share, even commercially; give credit", True),
    "cc-by-3.0": ("CC-BY-3.0", _P, "use, change, share, even commercially; give credit", True),
    "cc-by-4.0": ("CC-BY-4.0", _P, "use, change, share, even commercially; give credit", True),
    "gpl": ("GPL", _C, "copyleft: use and change; share your changes under the GPL too", True),
    "gpl-2.0": (
        "GPL-2.0",
        _C,
        "copyleft: use and change; share your changes under the GPL too",
        True,
    ),
    "gpl-3.0": (
        "GPL-3.0",
        _C,
        "copyleft: use and change; share your changes under the GPL too",
        True,
    ),
    "agpl-3.0": (
        "AGPL-3.0",
        _C,
        "strong copyleft: share your changes under the AGPL, even if you only run it as a service",
        True,
    ),
    "lgpl": ("LGPL", _C, "weak copyleft: use it inside anything; changes to it stay LGPL", True),
    "lgpl-2.1": (
        "LGPL-2.1",
        _C,
        "weak copyleft: use it inside anything; changes to it stay LGPL",
        True,
    ),
    "lgpl-3.0": (
        "LGPL-3.0",
        _C,
        "weak copyleft: use it inside anything; changes to it stay LGPL",
        True,
    ),
    "lgpl-lr": (
        "LGPL-LR",
        _C,
        "weak copyleft for language resources: changes stay under the same terms",
        True,
    ),
    "mpl-2.0": (
        "MPL-2.0",
        _C,
        "weak copyleft: changed files stay MPL; the rest can be anything",
        True,
    ),
    "epl-1.0": ("EPL-1.0", _C, "weak copyleft: changes to it stay EPL", True),
    "epl-2.0": ("EPL-2.0", _C, "weak copyleft: changes to it stay EPL", True),
    "eupl-1.1": ("EUPL-1.1", _C, "copyleft: share your changes under the EUPL too", True),
    "eupl-1.2": ("EUPL-1.2", _C, "copyleft: share your changes under the EUPL too", True),
    "osl-3.0": ("OSL-3.0", _C, "copyleft: share your changes under the OSL too", True),
    "ms-pl": ("MS-PL", _C, "weak copyleft: use and sell; source you share stays MS-PL", True),
    "ofl-1.1": (
        "OFL-1.1",
        _C,
        "font licence: use and share freely; don't sell the font on its own",
        True,
    ),
    "gfdl": ("GFDL", _C, "copyleft for documents: share changed versions under the GFDL too", True),
    "odbl": (
        "ODbL",
        _C,
        "share-alike open data: give credit; share changed databases under the ODbL",
        True,
    ),
    "cdla-sharing-1.0": (
        "CDLA-Sharing-1.0",
        _C,
        "share-alike open data: share changed data on the same terms",
        True,
    ),
    "cc-by-sa-3.0": (
        "CC-BY-SA-3.0",
        _C,
        "use, change, share, even commercially; give credit; share alike",
        True,
    ),
    "cc-by-sa-4.0": (
        "CC-BY-SA-4.0",
        _C,
        "use, change, share, even commercially; give credit; share alike",
        True,
    ),
    "cc-by-nd-4.0": (
        "CC-BY-ND-4.0",
        _R,
        "share it unchanged, even commercially; give credit; no changed versions",
        True,
    ),
    "c-uda": (
        "C-UDA",
        _R,
        "data for computational use (training, analysis) only; don't republish it",
        None,
    ),
    "openrail": ("OpenRAIL", _R, _RAIL_WORDS, True),
    "openrail++": ("OpenRAIL++-M", _R, _RAIL_WORDS, True),
    "openrail-m": ("OpenRAIL-M", _R, _RAIL_WORDS, True),
    "creativeml-openrail-m": ("CreativeML OpenRAIL-M", _R, _RAIL_WORDS, True),
    "bigscience-openrail-m": ("BigScience OpenRAIL-M", _R, _RAIL_WORDS, True),
    "bigcode-openrail-m": ("BigCode OpenRAIL-M", _R, _RAIL_WORDS, True),
    "bigscience-bloom-rail-1.0": ("BigScience BLOOM RAIL 1.0", _R, _RAIL_WORDS, True),
    "llama2": ("Llama 2 Community License", _R, _LLAMA_WORDS, True),
    "llama3": ("Llama 3 Community License", _R, _LLAMA_WORDS, True),
    "llama3.1": ("Llama 3.1 Community License", _R, _LLAMA_WORDS, True),
    "llama3.2": ("Llama 3.2 Community License", _R, _LLAMA_WORDS, True),
    "llama3.3": ("Llama 3.3 Community License", _R, _LLAMA_WORDS, True),
    "llama4": ("Llama 4 Community License", _R, _LLAMA_WORDS, True),
    "gemma": (
        "Gemma Terms of Use",
        _R,
        "open with use restrictions: Google's terms; free to use, with a prohibited-use policy",
        True,
    ),
    "cc-by-nc-2.0": ("CC-BY-NC-2.0", _N, _NC_WORDS, False),
    "cc-by-nc-3.0": ("CC-BY-NC-3.0", _N, _NC_WORDS, False),
    "cc-by-nc-4.0": ("CC-BY-NC-4.0", _N, _NC_WORDS, False),
    "cc-by-nc-nd-3.0": ("CC-BY-NC-ND-3.0", _N, _NC_WORDS + "; no changed versions", False),
    "cc-by-nc-nd-4.0": ("CC-BY-NC-ND-4.0", _N, _NC_WORDS + "; no changed versions", False),
    "cc-by-nc-sa-2.0": ("CC-BY-NC-SA-2.0", _N, _NC_WORDS + "; share alike", False),
    "cc-by-nc-sa-3.0": ("CC-BY-NC-SA-3.0", _N, _NC_WORDS + "; share alike", False),
    "cc-by-nc-sa-4.0": ("CC-BY-NC-SA-4.0", _N, _NC_WORDS + "; share alike", False),
    "fair-noncommercial-research-license": (
        "FAIR Noncommercial Research License",
        _N,
        _RESEARCH_WORDS,
        False,
    ),
    "deepfloyd-if-license": ("DeepFloyd IF License", _N, _RESEARCH_WORDS, False),
    "apple-amlr": ("Apple Machine Learning Research Model License", _N, _RESEARCH_WORDS, False),
    "h-research": ("H Research License", _N, _RESEARCH_WORDS, False),
    "intel-research": ("Intel Research Use License", _N, _RESEARCH_WORDS, False),
    "cc": (
        "Creative Commons (version not given)",
        _U,
        "some Creative Commons licence, but the card doesn't say which: see the license file",
        None,
    ),
    "other": (
        "Other",
        _U,
        "a license not in the Hub's list: see the license file or license_link",
        None,
    ),
    "unknown": (
        "Unknown",
        _U,
        "the author marked the license as unknown: ask before reusing",
        None,
    ),
}

_ALIASES = {
    "openrail-m++": "openrail++",
    "cc0": "cc0-1.0",
    "apache 2.0": "apache-2.0",
    "apache2": "apache-2.0",
}


def known_license_ids() -> frozenset[str]:
    return frozenset(_TABLE)


def explain_license(license_id: str | None) -> LicenseExplanation:
    """Say in plain words what a Hub license id lets a student do."""
    if license_id is None or not license_id.strip():
        return LicenseExplanation(
            license_id=None,
            name="No license",
            family=LicenseFamily.NONE,
            summary="no license given: by default nobody else may reuse it; ask the author first",
            commercial_use=False,
            known=True,
        )
    # Cards write ids by hand ("MIT", " apache-2.0 "): the Hub's ids are lower-case.
    key = license_id.strip().lower()
    key = _ALIASES.get(key, key)
    entry = _TABLE.get(key)
    if entry is None:
        return LicenseExplanation(
            license_id=key,
            name=license_id.strip(),
            family=LicenseFamily.UNKNOWN,
            summary=f"{license_id.strip()}: not a license id this bot knows; see the license file",
            commercial_use=None,
            known=False,
        )
    name, family, words, commercial = entry
    return LicenseExplanation(
        license_id=key,
        name=name,
        family=family,
        summary=f"{name}: {words}",
        commercial_use=commercial,
        known=True,
    )
