"""Why a person asks for ALPR data: every plate search, image view and evidence download states
a purpose, and the audit record keeps it.

California Civil Code 1798.90.52 requires the access log of an ALPR operator to record, for
every query, the date and time, the data queried, the user and the purpose. The purposes are
the authorized uses of policy section 4; an operator may replace the list with a YAML file
(`ALPR_ACCESS_PURPOSES_FILE`: a list of `{code, label, needs_case}`). A purpose that concerns
one citation (enforcement, an appeal) needs its case or citation number.

A request states it with the query parameters `purpose` and `case` (what an image URL can
carry) or the headers `X-ALPR-Purpose` and `X-ALPR-Case`; `Guard(..., purpose=True)` refuses a
request without a valid one (400, audited as denied).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

CASE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./_-]{0,63}$")
CODE = re.compile(r"^[a-z][a-z0-9-]{0,49}$")


class PurposeRefused(ValueError):
    """The request states no purpose, an unknown one, or lacks the case number it needs."""


@dataclass(frozen=True)
class Purpose:
    code: str
    label: str
    needs_case: bool = False


@dataclass(frozen=True)
class StatedPurpose:
    """The purpose a request stated: what the audit event records."""

    code: str
    case: str = ""


# Policy section 4, in its order, plus the verification of a machine read (section 9).
POLICY_PURPOSES = (
    Purpose("revenue", "Verification and reconciliation of parking revenue (policy 4.1)"),
    Purpose("enforcement", "Enforcement of the parking ordinance and fee resolution (policy 4.2)", needs_case=True),
    Purpose("occupancy", "Real-time facility availability and occupancy (policy 4.3)"),
    Purpose("appeal", "Evidence for a contested citation at Transit Court (policy 4.4)", needs_case=True),
)
# Stated by routes whose one use is their purpose: the review queue checks machine reads; the
# violations list is enforcement's work list (each row names its own citation, so no case).
READ_REVIEW = StatedPurpose("read-review")
ENFORCEMENT_WORK = StatedPurpose("enforcement")


class Purposes:
    """The configured list; `stated` checks what a request says against it."""

    def __init__(self, items: tuple[Purpose, ...] | list[Purpose] = POLICY_PURPOSES) -> None:
        if not items:
            raise ValueError("the list of access purposes is empty")
        for p in items:
            if not CODE.match(p.code):
                raise ValueError(f"purpose code {p.code!r}: lowercase letters, digits and '-', at most 50")
        self.items = tuple(items)
        self._by_code = {p.code: p for p in self.items}

    def stated(self, code: str | None, case: str | None) -> StatedPurpose:
        codes = ", ".join(self._by_code)
        if not code:
            raise PurposeRefused(f"state the purpose of this request (purpose: one of {codes})")
        purpose = self._by_code.get(code)
        if purpose is None:
            raise PurposeRefused(f"unknown purpose {code!r}; one of {codes}")
        case = (case or "").strip()
        if case and not CASE.match(case):
            raise PurposeRefused("case number: letters, digits, ' ./_-', at most 64 characters")
        if purpose.needs_case and not case:
            raise PurposeRefused(f"purpose {code!r} needs the case or citation number (case)")
        return StatedPurpose(code, case)


def load_purposes(path: Path | str | None) -> Purposes:
    """The purposes of `path` (YAML), or the policy's when no file is configured."""
    if not path:
        return Purposes()
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"ALPR_ACCESS_PURPOSES_FILE {path}: {err}") from None
    if not isinstance(raw, list):
        raise ValueError(f"ALPR_ACCESS_PURPOSES_FILE {path}: a YAML list of {{code, label, needs_case}}")
    try:
        return Purposes([Purpose(str(p["code"]), str(p["label"]), bool(p.get("needs_case", False))) for p in raw])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"ALPR_ACCESS_PURPOSES_FILE {path}: {err}") from None
