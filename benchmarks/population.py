"""A realistic population of companies and filings, and a bulk seeder for it.

Each filing is new (never repeated): its own valid BIN (check digit included) and
name, amounts with tiyn drawn around the policy's thresholds, dates, officer sets,
every activity, a realistic share of unmet criteria (values below a threshold) and
of missing inputs (dropped). The seeder writes companies and filings with bulk
INSERTs through SQLAlchemy core (``executemany``, thousands of rows a statement), not
one request per filing; a share of the companies also get an older filing that the
analysis must ignore (only the latest decided filing of a company counts).

The stored ``decision`` documents are real engine decisions (their size matters to
whatever reads whole filings) taken from a pool computed once per activity; the
impact analysis never reads them: it assesses the stored inputs again.

``realistic`` draws API request bodies from the same population, each decided on a day
spread over both shipped versions: ``benchmarks/decisions.py`` (in-process) and
``benchmarks/web.py`` (over HTTP) use the same requests.

Used by ``benchmarks/impact.py``, ``benchmarks/decisions.py``, ``benchmarks/web.py`` and
by the tests of the chunked impact analysis.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.models import Company, Filing
from hub.policy import Policy, PolicyRegistry, assess
from hub.storage import utcnow

ACTIVITY_LICENCE = {
    "exchange": "trading_facility",
    "broker": "service_provider",
    "custody": "service_provider",
    "payments": "service_provider",
    "mining": "mining",
    "software": "none",
}
OFFICERS = ("SEO", "FO", "CO", "MLRO", "CITO")
WORDS = (
    "Steppe", "Altyn", "Baiterek", "Nomad", "Esil", "Khan", "Tengri", "Saryarka", "Irtysh",
    "Aral", "Zhetysu", "Burabay", "Caspian", "Turan", "Kazyna", "Atameken", "Samruk",
)  # fmt: skip
FORMS = ("LLP", "JSC", "Ltd", "Exchange LLP", "Digital LLP", "Hash Ltd", "Custody JSC")
#: The days the API requests are decided on: both shipped versions are in force in turn.
FIRST_DAY, LAST_DAY = dt.date(2026, 7, 1), dt.date(2027, 12, 31)

#: Inputs that must stay under a limit (the lower the better).
LIMITS = frozenset(
    ("tax_arrears_kzt", "str_median_hours", "flagged_flow_pct",
     "proof_of_reserves_interval_days", "travel_rule_threshold_usd")
)  # fmt: skip

#: Typical values of a compliant company; the generator spreads them around these.
TYPICAL: dict[str, float] = {
    "independent_directors_pct": 40,
    "fte_declared": 20,
    "fte_in_zone": 18,
    "opex_in_zone_kzt": 80_000_000,
    "qualifying_income_pct": 95,
    "regulatory_capital_usd": 500_000,
    "tax_arrears_kzt": 0,
    "kyc_verified_clients_pct": 99,
    "source_of_funds_documented_pct": 97,
    "destination_of_funds_documented_pct": 96,
    "travel_rule_compliant_pct": 99.2,
    "travel_rule_threshold_usd": 1000,
    "record_retention_years": 7,
    "str_median_hours": 12,
    "flagged_flow_pct": 1.5,
    "cold_storage_pct": 92,
    "proof_of_reserves_interval_days": 30,
    "unhosted_wallet_verified_pct": 98,
    "qualifying_profit_kzt": 60_000_000,
    "vatable_turnover_kzt": 10_000_000,
    "foreign_payroll_kzt": 30_000_000,
    "property_value_kzt": 200_000_000,
    "power_metered": 1,
    "mined_sold_on_licensed_exchange_pct": 80,
    "renewable_energy_pct": 60,
    "mining_kwh": 1_000_000,
}


def bin_number(rnd: random.Random) -> str:
    """A random valid BIN: registration year and month, 4 or 5, a serial, the check digit."""
    while True:
        head = f"{rnd.randint(0, 25):02d}{rnd.randint(1, 12):02d}{rnd.choice('45')}"
        body = head + "".join(rnd.choice("0123456789") for _ in range(6))
        digits = [int(c) for c in body]
        check = sum(w * d for w, d in zip(range(1, 12), digits, strict=True)) % 11
        if check == 10:
            weights = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
            check = sum(w * d for w, d in zip(weights, digits, strict=True)) % 11
        if check != 10:
            return body + str(check)


#: how many different BINs ``unique_bin`` makes: its 5th digit (4 or 5) and a serial
UNIQUE_BINS = 2_000_000
#: a stride coprime with 10**6: ``i * stride mod 10**6`` visits every serial once
_STRIDE = 738_217


def unique_bin(rnd: random.Random, index: int) -> str:
    """A random-looking valid BIN that no other ``index`` below ``UNIQUE_BINS`` gets, and
    no memory kept to know it (a set of the BINs given would grow with the stream, and be
    counted as the memory of whatever the stream feeds): the 5th digit and the serial
    come from ``index`` (a permutation of the serials), the registration year and month
    from ``rnd``, drawn again while the check digit would be 10 both ways.
    Raises ValueError for an index out of range."""
    if not 0 <= index < UNIQUE_BINS:
        raise ValueError(f"index must be in 0..{UNIQUE_BINS - 1}, not {index}")
    kind, serial = divmod(index, 1_000_000)
    tail = f"{'45'[kind]}{(serial * _STRIDE + 271_828) % 1_000_000:06d}"
    while True:
        body = f"{rnd.randint(0, 25):02d}{rnd.randint(1, 12):02d}" + tail
        digits = [int(c) for c in body]
        check = sum(w * d for w, d in zip(range(1, 12), digits, strict=True)) % 11
        if check == 10:
            weights = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
            check = sum(w * d for w, d in zip(weights, digits, strict=True)) % 11
        if check != 10:
            return body + str(check)


def _spread(
    rnd: random.Random, typical: float, unmet: bool, spec: Any, low_is_good: bool = False
) -> float | int:
    """A value around ``typical``: mostly on the good side of it, sometimes well on the
    wrong side (``unmet``); ``low_is_good`` for limits (arrears, hours, flagged flows)."""
    if low_is_good:
        factor = rnd.uniform(1.3, 4.0) if unmet else rnd.uniform(0.4, 1.0)
    else:
        factor = rnd.uniform(0.3, 0.95) if unmet else rnd.uniform(0.96, 1.6)
    if typical == 0:
        hit = unmet or rnd.random() < 0.03
        value: float = round(rnd.uniform(1, 5_000_000), 2) if hit else 0.0
    else:
        value = typical * factor
    if spec.max is not None:
        value = min(value, float(spec.max))
    if spec.min is not None:
        value = max(value, float(spec.min))
    if spec.type == "integer":
        return round(value)
    return round(value, 2)


def filing(policy: Policy, rnd: random.Random, bin_: str, name: str) -> dict[str, Any]:
    """One company's filing under ``policy``'s inputs: every activity, values with tiyn
    around the thresholds, about a third of the companies short somewhere (one to three
    values well below what is needed) and one in five with inputs left out."""
    activity = rnd.choice(policy.activities)
    f: dict[str, Any] = {
        "bin": bin_,
        "legal_name": name,
        "activity": activity,
        "registered_in_hub": rnd.random() > 0.03,
        "licence_type": ACTIVITY_LICENCE.get(activity, "service_provider"),
        "licence_expires_on": (
            dt.date(2026, 7, 1) + dt.timedelta(days=rnd.randint(0, 4 * 365))
        ).isoformat(),
        "officers_appointed": sorted(
            rnd.sample(OFFICERS, 5 if rnd.random() > 0.2 else rnd.randint(2, 4))
        ),
        "separate_accounting": rnd.random() > 0.05,
        "sanctions_screening_hit": rnd.random() < 0.01,
        "cross_border_outflows_reported": rnd.random() > 0.04,
        "peak_curtailment_agreement": rnd.random() > 0.2,
    }
    if activity == "mining":
        f["power_metered"] = rnd.random() > 0.05
    unmet: set[str] = set()
    if rnd.random() < 0.35:
        unmet = set(rnd.sample(sorted(TYPICAL), rnd.randint(1, 3)))
    for name_, typical in TYPICAL.items():
        spec = policy.inputs_by_name.get(name_)
        if spec is None or spec.type not in ("number", "integer"):
            continue
        low_is_good = name_ in LIMITS
        f[name_] = _spread(rnd, typical, name_ in unmet, spec, low_is_good)
    if "fte_declared" in f and "fte_in_zone" not in unmet:  # staff as declared, mostly
        f["fte_in_zone"] = round(f["fte_declared"] * rnd.uniform(0.8, 1.0))
    f = {k: v for k, v in f.items() if k in policy.inputs_by_name}
    if rnd.random() < 0.2:
        optional = [k for k in f if k not in ("bin", "legal_name", "activity")]
        for k in rnd.sample(optional, rnd.randint(1, 3)):
            f.pop(k)
    return f


def population(
    policy: Policy, n: int, *, seed: int = 2027
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``n`` companies as (BIN, legal name, latest filing), all distinct."""
    rnd = random.Random(seed)
    seen: set[str] = set()
    for i in range(n):
        bin_ = bin_number(rnd)
        while bin_ in seen:
            bin_ = bin_number(rnd)
        seen.add(bin_)
        name = f"{rnd.choice(WORDS)} {rnd.choice(WORDS)} {i} {rnd.choice(FORMS)}"
        yield bin_, name, filing(policy, rnd, bin_, name)


def realistic(
    registry: PolicyRegistry, n: int, seed: int = 15, *, pinned_share: float = 0.0
) -> Iterator[dict[str, Any]]:
    """``n`` new API request bodies, all different: ``{"filing": ..., "as_of": ...}``, each
    a new company's filing (its own BIN, ``unique_bin``: nothing kept per request, so the
    stream's memory stays flat, and its name) drawn under the version in force on its
    ``as_of`` (a day from FIRST_DAY to LAST_DAY), so with that version's inputs; a share
    ``pinned_share`` of them also names the version (``"policy_version"``, as a client
    that pins it sends it)."""
    rnd = random.Random(seed)
    pin = random.Random(seed + 1)  # its own stream: the filings do not depend on the share
    span = (LAST_DAY - FIRST_DAY).days
    for i in range(n):
        day = FIRST_DAY + dt.timedelta(days=rnd.randint(0, span))
        policy = registry.select(day)
        bin_ = unique_bin(rnd, i)
        name = f"{rnd.choice(WORDS)} {rnd.choice(WORDS)} {i} {rnd.choice(FORMS)}"
        body: dict[str, Any] = {"filing": filing(policy, rnd, bin_, name), "as_of": str(day)}
        if pinned_share and pin.random() < pinned_share:
            body["policy_version"] = policy.version
        yield body


def _decision_pool(policy: Policy, as_of: dt.date, seed: int) -> dict[str, list[dict[str, Any]]]:
    rnd = random.Random(seed + 1)
    pool: dict[str, list[dict[str, Any]]] = {}
    for _, _, f in population(policy, 24 * len(policy.activities), seed=seed + 2):
        try:
            decision = assess(policy, f, as_of).to_dict()
        except Exception:  # a filing the engine refuses: no decision to copy
            continue
        pool.setdefault(f["activity"], []).append(decision)
    for decisions in pool.values():
        rnd.shuffle(decisions)
    return pool


COPIED = (
    "company_id", "status", "policy_id", "policy_version", "policy_digest", "lock_version",
    "created_at", "updated_at", "submitted_at", "inputs", "decision",
)  # fmt: skip


def _copy_filings(conn: Any, rows: list[dict[str, Any]], texts: dict[int, str]) -> None:
    """PostgreSQL's COPY of the filings (the pooled decisions written as JSON once)."""
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY filing ({', '.join(COPIED)}) FROM STDIN") as copy:
        for row in rows:
            values = [row[c] for c in COPIED[:-2]]
            copy.write_row([*values, json.dumps(row["inputs"]), texts[id(row["decision"])]])


def seed(
    engine: Engine,
    policy: Policy,
    n: int,
    *,
    as_of: dt.date,
    seed: int = 2027,
    older_share: float = 0.2,
    batch: int = 2_000,
    log: Any = None,
) -> dict[str, Any]:
    """Write ``n`` companies, each with a latest decided filing under ``policy`` (and
    ``older_share`` of them an older one), with bulk INSERTs of ``batch`` rows.

    Returns {"companies", "filings", "seconds"}. The companies' BINs must not be in
    the database yet (seed an empty one, or change ``seed``).
    """
    started = time.perf_counter()
    pool = _decision_pool(policy, as_of, seed)
    fallback = next(iter(pool.values()))
    texts = {id(d): json.dumps(d) for decisions in pool.values() for d in decisions}
    rnd = random.Random(seed + 3)
    companies = Company.__table__  # type: ignore[attr-defined]
    filings = Filing.__table__  # type: ignore[attr-defined]
    now = utcnow()
    written = 0
    stored_filings = 0
    it = population(policy, n, seed=seed)
    while True:
        chunk = [row for _, row in zip(range(batch), it, strict=False)]
        if not chunk:
            break
        with engine.begin() as conn:
            insert = sa.insert(companies).returning(
                companies.c.id, companies.c.bin, sort_by_parameter_order=True
            )
            ids = conn.execute(
                insert,
                [{"bin": b, "legal_name": name, "activity": f["activity"], "created_at": now}
                 for b, name, f in chunk],
            ).all()  # fmt: skip
            rows = []
            for (company_id, _), (_, _, f) in zip(ids, chunk, strict=True):
                decisions = pool.get(f["activity"], fallback)
                common = {
                    "company_id": company_id,
                    "status": "submitted",
                    "policy_id": policy.id,
                    "policy_version": policy.version,
                    "policy_digest": policy.digest,
                    "lock_version": 1,
                    "created_at": now,
                    "updated_at": now,
                    "submitted_at": now,
                }
                if rnd.random() < older_share:
                    older = dict(f)
                    for k in rnd.sample(sorted(older), 2):
                        if k not in ("bin", "legal_name", "activity"):
                            older.pop(k)
                    rows.append(
                        {**common, "inputs": older, "decision": rnd.choice(decisions),
                         "status": "superseded"}
                    )  # fmt: skip
                rows.append({**common, "inputs": f, "decision": rnd.choice(decisions)})
            if conn.dialect.name == "postgresql":
                _copy_filings(conn, rows, texts)
            else:
                conn.execute(sa.insert(filings), rows)
            stored_filings += len(rows)
        written += len(chunk)
        if log is not None:
            log(written)
    return {
        "companies": written,
        "filings": stored_filings,
        "seconds": time.perf_counter() - started,
    }
