Feature: Custody of client assets and proof of reserves
  An exchange or a custodian holds other people's assets. At T3 it keeps at
  least 90% of client assets in cold storage (after the Bahrain CBB rule) and
  publishes a proof of reserves at least every 90 days. Brokers and payments
  firms hold no client assets in this sense: the criteria do not apply to them.

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

  # --- cold_storage: T3, exchange and custodian: at least 90% of client assets in cold storage

  @cold_storage @v2026.1 @v2027.1
  Scenario Outline: cold_storage - at least 90% of client assets are in cold storage
    Given it keeps <pct>% of client assets in cold storage
    When the company is assessed
    Then criterion cold_storage is <status>

    Examples:
      | pct  | status  |
      | 50   | not met |
      | 89.9 | not met |
      | 90   | met     |
      | 90.1 | met     |

  @cold_storage @v2026.1 @v2027.1
  Scenario Outline: cold_storage applies to exchanges and custodians only
    Given the company is <company>
    And it keeps 50% of client assets in cold storage
    When the company is assessed
    Then criterion cold_storage is <status>

    Examples:
      | company          | status         |
      | an exchange      | not met        |
      | a broker         | not applicable |
      | a custodian      | not met        |
      | a payments firm  | not applicable |
      | a miner          | not applicable |
      | a software house | not applicable |

  @cold_storage @v2026.1 @v2027.1
  Scenario: cold_storage is missing when the cold-storage share is not filed
    Given its filing leaves out its share of client assets in cold storage
    When the company is assessed
    Then criterion cold_storage is missing
    And a fix is shown for cold_storage

  # --- proof_of_reserves: T3, exchange and custodian: a proof of reserves at least every 90 days

  @proof_of_reserves @v2026.1 @v2027.1
  Scenario Outline: proof_of_reserves - a proof of reserves is published at least every 90 days
    Given it publishes a proof of reserves every <days> days
    When the company is assessed
    Then criterion proof_of_reserves is <status>

    Examples:
      | days | status  |
      | 1    | met     |
      | 89   | met     |
      | 90   | met     |
      | 91   | not met |
      | 365  | not met |

  @proof_of_reserves @v2026.1 @v2027.1
  Scenario Outline: proof_of_reserves applies to exchanges and custodians only
    Given the company is <company>
    And it publishes a proof of reserves every 180 days
    When the company is assessed
    Then criterion proof_of_reserves is <status>

    Examples:
      | company          | status         |
      | an exchange      | not met        |
      | a broker         | not applicable |
      | a custodian      | not met        |
      | a payments firm  | not applicable |
      | a miner          | not applicable |
      | a software house | not applicable |

  @proof_of_reserves @v2026.1 @v2027.1
  Scenario: proof_of_reserves is missing when the proof-of-reserves interval is not filed
    Given its filing leaves out how often it publishes a proof of reserves
    When the company is assessed
    Then criterion proof_of_reserves is missing
    And a fix is shown for proof_of_reserves
