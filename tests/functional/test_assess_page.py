"""The anonymous check at /assess: the generated form, the result page, hostile input."""

from __future__ import annotations

import re
import shutil

import pytest

from hub.policy import PolicyRegistry

from .filing_support import t1_exchange


def form_data(filing: dict) -> dict:
    """A filing as a browser posts it (bools as yes/no, sets as repeated fields)."""
    data: dict = {}
    for key, value in filing.items():
        if value is True:
            data[key] = "yes"
        elif value is False:
            data[key] = "no"
        elif isinstance(value, list):
            data[key] = value
        else:
            data[key] = str(value)
    return data


def complete(**changes) -> dict:
    return form_data(t1_exchange(bin="940140000385", **changes))


def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_form_has_a_control_for_every_input_of_the_version_in_force(app, client, clock):
    page = text(client.get("/assess"))
    registry = PolicyRegistry.from_directory(app.config["POLICY_DIR"])
    policy = registry.select(clock.today())
    for spec in policy.inputs:
        assert f'name="{spec.name}"' in page, spec.name
        assert spec.label in page.replace("&#39;", "'")
    for group in policy.groups:
        assert (
            f"<legend>{group.title}</legend>" in page.replace("&#34;", '"').replace("&amp;", "&")
            or group.title in page
        )
    # Bounds, units, choices, dates, sets and the three-way bools.
    assert re.search(r'name="kyc_verified_clients_pct"[^>]*min="0(\.0)?"[^>]*max="100(\.0)?"', page)
    assert 'type="date"' in page and 'name="licence_expires_on"' in page
    assert 'type="checkbox" name="officers_appointed" value="MLRO"' in page
    assert 'type="radio" name="registered_in_hub" value=""' in page  # "not answered"
    assert '<option value="trading_facility"' in page
    assert "Figures for the savings estimate" in page
    assert 'name="csrf_token"' in page


def test_a_new_input_in_a_policy_file_appears_in_the_form(make_app, tmp_path):
    """A new version file with one more input: the form shows it, no template touched."""
    from hub.config import DEFAULT_POLICY_DIR

    policies = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, policies)
    original = next(policies.rglob("2026.1.yaml"))
    source = original.read_text()
    addition = (
        "inputs:\n"
        "  staking_share_pct:\n"
        "    type: number\n"
        '    unit: "%"\n'
        "    min: 0\n"
        "    max: 100\n"
        "    group: custody\n"
        "    label: Client assets staked on behalf of clients\n"
        "    help: A brand-new question only this test's policy asks.\n"
    )
    for old, new in [
        ("\ninputs:\n", "\n" + addition),
        ('version: "2026.1"', 'version: "2026.2"'),
        ("effective_from: 2026-07-01", "effective_from: 2026-10-01"),
    ]:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    (original.parent / "2026.2.yaml").write_text(source)
    app = make_app(POLICY_DIR=str(policies))
    page = text(app.test_client().get("/assess?as_of=2026-10-15"))
    assert "version 2026.2" in page
    assert 'name="staking_share_pct"' in page
    assert "Client assets staked on behalf of clients" in page
    assert "A brand-new question only this test&#39;s policy asks." in page
    assert re.search(r'name="staking_share_pct"[^>]*max="100', page)
    # The version before it does not ask.
    assert 'name="staking_share_pct"' not in text(app.test_client().get("/assess?as_of=2026-09-01"))
    # And the value is read, typed, and passed to the core.
    response = app.test_client().post(
        "/assess", data={**complete(), "staking_share_pct": "150", "as_of": "2026-10-15"}
    )
    assert response.status_code == 422
    assert "Must be at most 100." in text(response)


def test_a_complete_filing_shows_tier_benefits_savings_and_every_criterion(client):
    response = client.post("/assess", data=complete())
    assert response.status_code == 200
    page = text(response)
    assert "Registered</strong> tier reached" in page
    assert "What T2 (Transparent) needs" in page
    assert "raise opex_in_zone_kzt from 10,000,000 to at least 50,000,000" in page
    assert "30,000,000 KZT" in page  # 1.5% of 2,000,000,000
    assert "6,000,000 KZT" in page  # 6% of 100,000,000
    assert "36,000,000 KZT" in page  # the total
    assert page.count('data-criterion="') == 28
    # Unmet first: the only unmet criterion is the first row.
    first = re.search(r'data-criterion="([a-z_]+)"', page).group(1)
    assert first == "local_opex"
    assert 'href="/assess/policy/2026.1"' in page
    assert 'class="bar-fill s-not_met" data-width="' in page  # drawn by static/page.js (CSP)
    assert "ACH Rule 4.2" in page  # citation


def test_the_result_says_what_the_next_tier_is_worth(client):
    """Meeting local_opex would reach T3 here (its other criteria are met): the benefits it
    adds and their savings, as the engine estimates them on the filing's figures."""
    page = text(client.post("/assess", data=complete()))
    gain = re.search(r'id="next-tier-gain">(.*?)</div>', page, re.S)
    assert gain, "no 'what the next tier is worth' on the result"
    said = " ".join(gain.group(1).split())
    assert "Meeting it would bring <strong>Full disclosure (T3)</strong>" in said
    assert "Personal income tax exemption for foreign employees: about 10,000,000 KZT" in said
    assert "worth about <strong>10,000,000 KZT</strong> more a year" in said
    assert "Corporate income tax exemption on qualifying income <span" in said  # no estimate


def test_typed_values_are_kept_and_errors_are_shown_beside_their_fields(client):
    data = complete(legal_name="Steppe Exchange LLP")
    data["kyc_verified_clients_pct"] = "abc"
    data["fte_in_zone"] = "2.5"
    data["bin"] = "940140000386"
    response = client.post("/assess", data=data)
    assert response.status_code == 422
    page = text(response)
    assert 'value="abc"' not in page or "abc" in page  # type=number may not echo letters
    assert "Enter a number, such as 95 or 97.5." in page
    assert "Enter a whole number (no decimals)." in page
    assert "Has a wrong check digit." in page
    assert 'value="940140000386"' in page  # what was typed is kept
    assert 'value="Steppe Exchange LLP"' in page
    assert "3 answers need your attention" in page
    assert 'id="err-kyc_verified_clients_pct"' in page


def test_numbers_are_read_as_people_write_them(client):
    data = complete(opex_in_zone_kzt=None)
    data["opex_in_zone_kzt"] = "60,000,000"
    data["kyc_verified_clients_pct"] = " 100 "
    response = client.post("/assess", data=data)
    assert response.status_code == 200
    assert "Full disclosure</strong> tier reached" in text(response)


def test_required_fields_and_empty_answers(client):
    response = client.post("/assess", data={"bin": "", "legal_name": "", "activity": ""})
    assert response.status_code == 422
    page = text(response)
    for name in ("bin", "legal_name", "activity"):
        assert f'<p class="error" id="err-{name}">This is required.</p>' in page
    response = client.post(
        "/assess", data={"bin": "940140000385", "legal_name": "X", "activity": "mining"}
    )
    assert response.status_code == 200
    assert "No tier reached yet" in text(response)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kyc_verified_clients_pct", "1e400", "This number is too large."),
        ("kyc_verified_clients_pct", "NaN", "Enter a number"),
        ("kyc_verified_clients_pct", "inf", "Enter a number"),
        ("opex_in_zone_kzt", "9" * 70_000, "too long to be one"),
        ("opex_in_zone_kzt", "1e30", "Must be at most 9,999,999,999,999.99"),
        ("kyc_verified_clients_pct", "95,5", "Use a point for decimals."),
        ("legal_name", "x" * 70_000, "at most 200 characters"),
        ("activity", "casino", "Must be one of"),
        ("licence_expires_on", "2026-02-30", "not a real date"),
        ("licence_expires_on", "tomorrow", "YYYY-MM-DD"),
        ("registered_in_hub", "maybe", "Choose yes, no or not answered."),
        ("officers_appointed", "CEO", "May hold only"),
    ],
)
def test_hostile_values_get_a_field_error_never_a_500(client, field, value, message):
    data = complete()
    data[field] = value
    response = client.post("/assess", data=data)
    assert response.status_code == 422, text(response)[:300]
    assert message in text(response)


def test_hostile_requests_never_give_a_500(client):
    assert client.post("/assess", data={"legal_name": "a\x00b"}).status_code == 400
    assert client.post("/assess", data={"unknown": "1", **complete()}).status_code == 200
    assert client.post("/assess", data={"as_of": "x" * 1000, **complete()}).status_code == 200
    response = client.post("/assess", data={"as_of": "2020-01-01", **complete()})
    assert response.status_code == 422
    assert "no policy version is in force on 2020-01-01" in text(response)
    response = client.post(
        "/assess", data=b"\xff\xfe", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code in (200, 400, 422)
    assert client.get("/assess?as_of=" + "9" * 5000).status_code == 200


def test_set_answers_none_of_these_and_conflicting_ticks(client):
    data = complete()
    data["officers_appointed"] = ["__none__"]
    page = text(client.post("/assess", data=data))
    assert "No tier reached yet" in page
    assert "officers_appointed contains all of SEO, FO, CO, MLRO, CITO" in page
    data["officers_appointed"] = ["__none__", "SEO"]
    response = client.post("/assess", data=data)
    assert response.status_code == 422
    assert "not both" in text(response)


def test_fields_for_other_activities_are_marked_not_needed(client):
    data = complete()
    data["bin"] = "bad"
    data["activity"] = "mining"
    page = text(client.post("/assess", data=data))
    field = re.search(r'<div class="[^"]*"\s+id="field-kyc_verified_clients_pct"[^>]*>', page)
    assert "not-needed" in field.group(0)
    assert 'data-activities="exchange broker custody payments"' in field.group(0)
    assert "Not needed for Mining." in page
    mining = re.search(r'<div class="[^"]*"\s+id="field-power_metered"[^>]*>', page).group(0)
    assert "not-needed" not in mining
    # The script that does it live is served locally.
    assert 'src="/static/policy-form.js"' in page
    script = client.get("/static/policy-form.js")
    assert script.status_code == 200
    script.close()


def test_the_2027_rules_are_one_click_away(client):
    page = text(client.get("/assess?as_of=2027-01-01"))
    assert 'name="unhosted_wallet_verified_pct"' in page
    assert "version 2027.1" in page


def test_the_readable_policy_page(client):
    page = text(client.get("/assess/policy/2026.1"))
    assert "Clients identity-verified (baseline)" in page
    assert "ACH Rule 3.1" in page
    assert client.get("/assess/policy/1999.9").status_code == 404


def test_csrf_is_required_on_the_check(make_app, csrf_token):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    response = client.post("/assess", data=complete())
    assert response.status_code == 400
    assert "security token" in text(response)
    token = csrf_token(client, "/assess")
    assert client.post("/assess", data={**complete(), "csrf_token": token}).status_code == 200


def test_the_check_and_login_are_rate_limited_with_a_clear_page(make_app, make_user):
    app = make_app(RATELIMIT_ENABLED=True, ASSESS_FORM_RATE_LIMIT="2 per minute")
    client = app.test_client()
    assert client.post("/assess", data=complete()).status_code == 200
    assert client.post("/assess", data=complete()).status_code == 200
    response = client.post("/assess", data=complete())
    assert response.status_code == 429
    assert "You are going too fast" in text(response)
    assert "2 per 1 minute" in text(response)
    assert client.get("/assess").status_code == 200  # reading the form is not limited
    user = make_user("company")
    statuses = [
        client.post("/login", data={"email": user.email, "password": "wrong"}).status_code
        for _ in range(11)
    ]
    assert statuses[-1] == 429 and statuses[0] == 200
