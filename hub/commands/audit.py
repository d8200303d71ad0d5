"""`hub audit`: check the hash chain of the audit trail."""

from __future__ import annotations

import click


@click.group("audit")
def audit() -> None:
    """Inspect the append-only audit trail."""


@audit.command("verify")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing when the chain is intact.")
def verify(quiet: bool) -> None:
    """Recompute every record's hash and link; exit 1 and name the first bad record.

    A record whose content was edited, or whose predecessor was changed or removed,
    breaks the chain from that point on. Exit status: 0 intact, 1 broken.
    """
    # Imported here, not at the top: hub.cli imports this module while it loads.
    from sqlmodel import func, select

    from hub import audit as trail
    from hub.cli import app_context
    from hub.db import session_scope
    from hub.models import AuditRecord

    with app_context() as app, session_scope(app) as session:
        count = session.exec(select(func.count()).select_from(AuditRecord)).one()
        problems = trail.verify(session)
        if not problems:
            if not quiet:
                click.echo(f"Audit trail intact: {count} records, every hash and link checks out.")
            return
        first = problems[0]
        record = session.get(AuditRecord, first.record_id) if first.record_id else None
        what = ""
        if record is not None:
            when = record.at.strftime("%Y-%m-%d %H:%M:%S")
            what = f" ({record.action} on {record.entity_type} {record.entity_id}, {when} UTC)"
        click.echo(
            f"Audit trail BROKEN: first bad record is #{first.record_id}{what}: {first.message}.",
            err=True,
        )
        if len(problems) > 1:
            click.echo(f"{len(problems)} problems in all:", err=True)
            for p in problems:
                click.echo(f"  #{p.record_id}: {p.message}", err=True)
    raise SystemExit(1)
