Feature: Versions - which version decides, and what 2027.1 changed
  An assessment uses the version in force on its date: the version with the
  latest effective date on or before it. Version 2026.1 takes effect on
  2026-07-01, version 2027.1 on 2027-01-01. Before 2026-07-01 no version is in
  force, and an assessment is refused rather than answered. Version 2027.1
  keeps everything of 2026.1 except: the identity-verification baseline rises
  from 95% to 97% of clients, the minimum spending in the zone from 50,000,000
  to 60,000,000 KZT a year, and a new T2 criterion for client-facing companies
  asks that the owner be verified for every transfer above USD 1,000 to or from
  a self-hosted wallet. A filing made for 2026.1 does not have that figure, so
  under 2027.1 the criterion is missing and the company cannot reach T2 until
  it files it.

  Background: a typical compliant exchange
    Given an exchange "Steppe Exchange LLP" with BIN 940140000385
    And it is entered in the hub's register
    And it holds a trading facility licence valid until 2030-12-31
    And it has appointed the key officers SEO, FO, CO, MLRO and CITO
    And 40% of its board is independent
    And it declared 20 full-time staff in its hub application
    And it employs 20 full-time staff in the zone
    And it spends 80,000,000 KZT a year on operations in the zone
    And 95% of its income comes from qualifying hub activities
    And it keeps separate accounts for qualifying income
    And it holds USD 1,000,000 of regulatory capital
    And neither it nor any owner matches a sanctions list
    And it owes 0 KZT of overdue tax
    And its clients are 100% identity-verified
    And the source of funds is documented for 100% of its large depositors
    And the destination of funds is documented for 100% of its large withdrawers
    And 100% of its transfers carry complete originator and beneficiary data
    And it applies the travel rule from USD 1,000
    And it keeps client and transaction records for 7 years
    And it reports suspicious transactions in a median of 12 hours
    And 0.5% of its volume is flagged as linked to scams, gambling, sanctions or mixers
    And it keeps 95% of client assets in cold storage
    And it publishes a proof of reserves every 30 days
    And it reports cross-border outflows to the National Bank

  @versions @v2026.1 @v2027.1
  Scenario Outline: the version in force on the assessment date decides
    When it is assessed on <date>
    Then the decision is made under version <version>
    And the decision names the policy and its digest

    Examples:
      | date       | version |
      | 2026-07-01 | 2026.1  |
      | 2026-07-02 | 2026.1  |
      | 2026-12-31 | 2026.1  |
      | 2027-01-01 | 2027.1  |
      | 2027-06-30 | 2027.1  |

  @versions @v2026.1 @v2027.1
  Scenario Outline: before 2026-07-01 no version is in force
    When it is assessed on <date>
    Then the assessment is refused: no policy version is in force on <date>

    Examples:
      | date       |
      | 2026-06-30 |
      | 2025-01-01 |

  @valid_licence @versions @v2026.1 @v2027.1
  Scenario: the assessment date is also the date the licence must be valid on
    Given it holds a trading facility licence valid until 2027-01-15
    When it is assessed on 2027-01-15
    Then the decision is made under version 2027.1
    And criterion valid_licence is met
    When it is assessed on 2027-01-16
    Then criterion valid_licence is not met

  @unhosted_wallet_checks @cold_storage @v2026.1 @v2027.1
  Scenario: a filing that reached T2 under 2026.1 does not reach T2 under 2027.1 without its wallet checks
    Given it keeps 80% of client assets in cold storage
    When it is assessed on 2026-12-31
    Then the decision is made under version 2026.1
    And it reaches tier T2
    When it is assessed on 2027-01-01
    Then the decision is made under version 2027.1
    And criterion unhosted_wallet_checks is missing
    And a fix is shown for unhosted_wallet_checks
    And it reaches tier T1

  @unhosted_wallet_checks @v2026.1 @v2027.1
  Scenario: the compliant exchange falls from T3 to T1 on 2027-01-01 until it files its wallet checks
    When it is assessed under version 2026.1
    Then it reaches tier T3
    When it is assessed under version 2027.1
    Then it reaches tier T1
    And criterion unhosted_wallet_checks is missing

  @unhosted_wallet_checks @v2026.1 @v2027.1
  Scenario: once it files its wallet checks the exchange is back at T3 under 2027.1, and 2026.1 refuses the new figure
    Given it verified the owner in 100% of its transfers with self-hosted wallets
    When it is assessed under version 2027.1
    Then criterion unhosted_wallet_checks is met
    And it reaches tier T3
    When it is assessed under version 2026.1
    Then the filing is rejected with an error on unhosted_wallet_verified_pct

  @kyc_baseline @v2026.1 @v2027.1
  Scenario: 96% of clients verified meets the baseline under 2026.1 but not under 2027.1
    Given its clients are 96% identity-verified
    When it is assessed under version 2026.1
    Then criterion kyc_baseline is met
    When it is assessed under version 2027.1
    Then criterion kyc_baseline is not met
    And the fix for kyc_baseline asks to raise kyc_verified_clients_pct from 96 to at least 97

  @local_opex @v2026.1 @v2027.1
  Scenario: 55,000,000 KZT spent in the zone is enough under 2026.1 but not under 2027.1
    Given it spends 55,000,000 KZT a year on operations in the zone
    When it is assessed under version 2026.1
    Then criterion local_opex is met
    When it is assessed under version 2027.1
    Then criterion local_opex is not met
    And the fix for local_opex asks to raise opex_in_zone_kzt from 55,000,000 to at least 60,000,000
