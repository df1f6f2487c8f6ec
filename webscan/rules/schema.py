"""The signature file format, as pydantic models, so a bad rule is rejected on load with its
file and id named instead of misbehaving in the middle of a scan.

Every file under signatures/ is YAML with a header (`format`, `kind`) and a list of rules.
The format is documented for people in signatures/README.md; keep both in step.
"""

from __future__ import annotations

import re
from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from webscan.model import Severity

FORMAT_VERSION = 1
RULE_ID = r"^[a-z0-9]+(?:[.-][a-z0-9]+)+$"


def _compiles(patterns: list[str], what: str) -> list[str]:
    for p in patterns:
        try:
            re.compile(p)
        except re.error as e:
            raise ValueError(f"{what} {p!r} is not a valid regex: {e}") from None
    return patterns


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Samples(_Strict):
    """Inputs the rule must match and must not match; tests/test_signature_samples.py runs them.

    For domain rules a sample is a URL or host; for JS rules a JavaScript source; for protocol
    rules a JSON message; for Wasm and constant rules a path (relative to the signatures
    folder's parent) of a module or file.
    """

    match: list[str] = Field(min_length=1)
    no_match: list[str] = Field(min_length=1)


class RuleBase(_Strict):
    id: str = Field(pattern=RULE_ID)
    description: str = Field(min_length=10)
    severity: Severity
    category: str
    references: list[str] = Field(default_factory=list)
    samples: Samples

    @field_validator("description")
    @classmethod
    def _one_paragraph(cls, v: str) -> str:
        """YAML block scalars leave newlines; a finding's message is one paragraph."""
        return " ".join(v.split())


# --- domains -------------------------------------------------------------------------------


class DomainRule(RuleBase):
    """Hosts (matched with every subdomain) and URL regexes of mining services and proxies."""

    domains: list[str] = Field(default_factory=list)
    url_patterns: list[str] = Field(default_factory=list)

    @field_validator("domains")
    @classmethod
    def _hosts(cls, v: list[str]) -> list[str]:
        out = []
        for d in v:
            d = d.strip().lower().rstrip(".")
            if not re.fullmatch(r"[a-z0-9*](?:[a-z0-9.-]*[a-z0-9])?", d) or "." not in d:
                raise ValueError(f"not a host name: {d!r}")
            out.append(d)
        return out

    @field_validator("url_patterns")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        return _compiles(v, "url pattern")

    @model_validator(mode="after")
    def _something(self) -> "DomainRule":
        if not self.domains and not self.url_patterns:
            raise ValueError("a domain rule needs `domains` or `url_patterns`")
        return self


# --- JavaScript ----------------------------------------------------------------------------


class JsQuery(_Strict):
    """A tree-sitter-javascript query; the capture named `hit` locates the finding."""

    query: str


class JsTokens(_Strict):
    """Identifiers and string contents (after de-obfuscation) that must occur in one script.

    `all` must all occur; of `any`, at least `min_any` must. Comments never count.
    """

    all: list[str] = Field(default_factory=list)
    any: list[str] = Field(default_factory=list)
    min_any: int = 1

    @model_validator(mode="after")
    def _something(self) -> "JsTokens":
        if not self.all and not self.any:
            raise ValueError("a tokens match needs `all` or `any`")
        if self.any and not 1 <= self.min_any <= len(self.any):
            raise ValueError("`min_any` must be between 1 and the length of `any`")
        return self


class JsObject(_Strict):
    """An object judged by its keys, written as one literal or assigned property by property
    in one block. Each entry is a regex matched against a whole key (use `(?i)` and `_?` for
    spellings). Every `keys_all` regex must match a key; of the other keys, at least `min_any`
    must match some `keys_any` regex. The first `keys_all` regex must require a literal of 3+
    characters (the engine searches for it before building any object)."""

    keys_all: list[str] = Field(min_length=1)
    keys_any: list[str] = Field(default_factory=list)
    min_any: int = 0

    @field_validator("keys_all", "keys_any")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        return _compiles(v, "key pattern")

    @model_validator(mode="after")
    def _counts(self) -> "JsObject":
        if not 0 <= self.min_any <= max(len(self.keys_any), 0) or (self.keys_any and not self.min_any):
            raise ValueError("`min_any` must be between 1 and the length of `keys_any` (0 without it)")
        return self


class JsObjectMatch(_Strict):
    object: JsObject


class JsElement(_Strict):
    """An element by shape, for kit widgets written as markup: one of `tags`, a class that
    `class` (a regex) matches whole, every attribute of `attrs_all`, and `min_any` of
    `attrs_any`. Matched on the elements of HTML pages and on markup inside scripts (strings,
    or markup captured into a `.js` file). `class` must require a literal of 3+ characters."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    tags: list[str] = Field(default_factory=lambda: ["div"], min_length=1)
    class_: str = Field(alias="class")
    attrs_all: list[str] = Field(default_factory=list)
    attrs_any: list[str] = Field(default_factory=list)
    min_any: int = 0

    @field_validator("class_")
    @classmethod
    def _regex(cls, v: str) -> str:
        return _compiles([v], "class pattern")[0]

    @model_validator(mode="after")
    def _counts(self) -> "JsElement":
        if not 0 <= self.min_any <= len(self.attrs_any):
            raise ValueError("`min_any` must be between 0 and the length of `attrs_any`")
        return self


class JsElementMatch(_Strict):
    element: JsElement


class JsRule(RuleBase):
    match: Union[JsQuery, JsTokens, JsObjectMatch, JsElementMatch]
    requires: list[str] = Field(
        default_factory=list,
        description="ids of other JS rules that must also match in the same script",
    )
    scope: Literal["code", "comments"] = Field(
        default="code",
        description="`comments`: the query runs on the text of comments (code a browser does "
                    "not run, such as a kit call left behind), never on code",
    )

    @model_validator(mode="after")
    def _comments_are_queried(self) -> "JsRule":
        if self.scope == "comments" and not isinstance(self.match, JsQuery):
            raise ValueError("a rule with `scope: comments` needs a `query` match")
        return self


# --- hash constants (shared by the JS and Wasm analysers) ---------------------------------


class ConstantSet(RuleBase):
    """Constants that identify a hashing primitive, as integers and/or byte strings (hex).

    A set is present when at least `min_hits` of its `values` occur (as Wasm/JS integer
    literals, or little-endian inside Wasm data segments or JS byte arrays), or any of its
    `byte_patterns` occurs in data.
    """

    primitive: str
    family: list[str] = Field(default_factory=list, description="e.g. cryptonight, randomx")
    width: Literal[32, 64] = 32
    values: list[int] = Field(default_factory=list)
    byte_patterns: list[str] = Field(default_factory=list)
    min_hits: int = 1

    @field_validator("byte_patterns")
    @classmethod
    def _hex(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                if len(bytes.fromhex(p)) < 8:
                    raise ValueError
            except ValueError:
                raise ValueError(f"byte pattern {p[:20]!r} must be hex of at least 8 bytes") from None
        return v


# --- Wasm ----------------------------------------------------------------------------------


class WasmRule(RuleBase):
    """A module-level fingerprint: primitives present, name shapes, instruction density.

    Every condition given must hold. `primitives_min` counts distinct primitives among
    `primitives_any`.
    """

    primitives_all: list[str] = Field(default_factory=list)
    primitives_any: list[str] = Field(default_factory=list)
    primitives_min: int = 0
    export_patterns: list[str] = Field(default_factory=list, description="regex, any export")
    import_patterns: list[str] = Field(default_factory=list, description="regex, any import")
    min_xor_share: float | None = None
    min_rotates_per_1000: float | None = None
    min_instructions: int = 0
    mining_loop: bool = Field(False, description="the code holds a nonce loop with a target "
                              "comparison around a hash call (webscan/wasm/mining.py)")


# --- protocol --------------------------------------------------------------------------------


class ProtocolRule(RuleBase):
    """A pool protocol message by shape: keys that must be present, values that must be equal.

    `shape` is a JSON object template; a value of "*" means any value, a nested object is
    matched recursively. `direction` says who sends it. In static JS the shape counts as
    present when its keys and fixed string values all occur in one script. A *session* rule
    has `all_of` instead of a shape: it holds when every listed rule holds (a client that both
    logs in and submits shares is a mining client, whatever it is called).
    """

    protocol: str
    direction: Literal["client", "server"]
    message: str = Field(description="what the message does: login, job, submit, ...")
    shape: dict | None = None
    all_of: list[str] = Field(
        default_factory=list,
        description="a session rule: ids of other protocol rules that must all be seen in the "
                    "same script or connection (e.g. a login and a share submit)",
    )

    @model_validator(mode="after")
    def _shape_or_session(self) -> "ProtocolRule":
        if (self.shape is None) == (not self.all_of):
            raise ValueError("a protocol rule needs exactly one of `shape` or `all_of`")
        return self


# --- verdict -------------------------------------------------------------------------------


class Category(_Strict):
    description: str
    weight: float = Field(ge=0.0, le=1.0)
    strong: bool = False
    miner_evidence: bool = Field(
        default=True,
        description="false: counts toward `suspicious` but never toward the `miner` threshold "
                    "(code a browser does not run, such as a miner call left in a comment)",
    )

    @model_validator(mode="after")
    def _strong_counts(self) -> "Category":
        if self.strong and not self.miner_evidence:
            raise ValueError("a strong category must count as miner evidence")
        return self


class CategoryGroup(_Strict):
    """Categories whose combined weight is capped: capabilities every heavy web app has
    (workers, Wasm, sockets, CPU) must not add up to a verdict on their own."""

    description: str
    categories: list[str] = Field(min_length=2)
    cap: float = Field(ge=0.0, le=1.0)


class VerdictConfig(_Strict):
    """Weights and thresholds that turn findings into a verdict (see webscan/verdict.py)."""

    categories: dict[str, Category]
    groups: dict[str, CategoryGroup] = Field(default_factory=dict)
    miner_threshold: float = Field(ge=0.0, le=1.0)
    suspicious_threshold: float = Field(ge=0.0, le=1.0)
    miner_min_strong: int = Field(ge=1, description="distinct strong categories a miner needs")
    miner_min_categories: int = Field(ge=1, description="distinct categories a miner needs")

    @model_validator(mode="after")
    def _groups_name_categories(self) -> "VerdictConfig":
        seen: set[str] = set()
        for name, g in self.groups.items():
            for c in g.categories:
                if c not in self.categories:
                    raise ValueError(f"group {name}: unknown category {c!r}")
                if self.categories[c].strong:
                    raise ValueError(f"group {name}: {c!r} is strong; only weak ones can be capped")
                if c in seen:
                    raise ValueError(f"group {name}: {c!r} is already in another group")
                seen.add(c)
        return self


# --- files ---------------------------------------------------------------------------------

Kind = Literal["domains", "js", "constants", "wasm", "protocol", "verdict"]


class RuleFile(_Strict):
    format: int
    kind: Kind
    version: str | None = None
    description: str | None = None
    rules: list = Field(default_factory=list)
    verdict: VerdictConfig | None = None


RULE_MODEL: dict[str, type[RuleBase]] = {
    "domains": DomainRule,
    "js": JsRule,
    "constants": ConstantSet,
    "wasm": WasmRule,
    "protocol": ProtocolRule,
}
