Feature: Good standing - sanctions, tax, registration and records
  A company earns nothing in the hub unless it is clean and on the record: no
  sanctions match for it or any owner (FATF Recommendation 6), no overdue tax,
  an entry in the hub's public register, and client and transaction records
  kept for at least 5 years (FATF Recommendation 11). These are T1 criteria
  and apply to every activity. Each scenario starts from the typical compliant
  exchange below and states only what differs.

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

  # --- no_sanctions: T1, all activities: met when there is no sanctions match

  @no_sanctions @v2026.1 @v2027.1
  Scenario Outline: no_sanctions - a sanctions match fails the company
    Given <screening>
    When the company is assessed
    Then criterion no_sanctions is <status>

    Examples:
      | screening                                         | status  |
      | neither it nor any owner matches a sanctions list | met     |
      | it or an owner matches a sanctions list           | not met |

  @no_sanctions @v2026.1 @v2027.1
  Scenario Outline: no_sanctions applies to every activity
    Given the company is <company>
    And it or an owner matches a sanctions list
    When the company is assessed
    Then criterion no_sanctions is not met

    Examples:
      | company          |
      | an exchange      |
      | a broker         |
      | a custodian      |
      | a payments firm  |
      | a miner          |
      | a software house |

  @no_sanctions @v2026.1 @v2027.1
  Scenario: no_sanctions is missing when the screening result is not filed
    Given its filing leaves out the result of its sanctions screening
    When the company is assessed
    Then criterion no_sanctions is missing
    And a fix is shown for no_sanctions
    And criterion no_sanctions cites its rule

  # --- no_tax_arrears: T1, all activities: met when overdue tax is exactly 0 KZT

  @no_tax_arrears @v2026.1 @v2027.1
  Scenario Outline: no_tax_arrears - any overdue tax at all fails the company
    Given it owes <arrears> KZT of overdue tax
    When the company is assessed
    Then criterion no_tax_arrears is <status>

    Examples:
      | arrears   | status  |
      | 0         | met     |
      | 0.01      | not met |
      | 1         | not met |
      | 2,500,000 | not met |

  @no_tax_arrears @v2026.1 @v2027.1
  Scenario Outline: no_tax_arrears applies to every activity
    Given the company is <company>
    And it owes 1 KZT of overdue tax
    When the company is assessed
    Then criterion no_tax_arrears is not met

    Examples:
      | company          |
      | an exchange      |
      | a broker         |
      | a custodian      |
      | a payments firm  |
      | a miner          |
      | a software house |

  @no_tax_arrears @v2026.1 @v2027.1
  Scenario: no_tax_arrears is missing when overdue tax is not filed
    Given its filing leaves out its overdue tax
    When the company is assessed
    Then criterion no_tax_arrears is missing
    And a fix is shown for no_tax_arrears

  # --- hub_registration: T1, all activities: met when entered in the hub's register

  @hub_registration @v2026.1 @v2027.1
  Scenario Outline: hub_registration - the company must be in the hub's public register
    Given <register>
    When the company is assessed
    Then criterion hub_registration is <status>

    Examples:
      | register                                | status  |
      | it is entered in the hub's register     | met     |
      | it is not entered in the hub's register | not met |

  @hub_registration @v2026.1 @v2027.1
  Scenario Outline: hub_registration applies to every activity
    Given the company is <company>
    And it is not entered in the hub's register
    When the company is assessed
    Then criterion hub_registration is not met

    Examples:
      | company          |
      | an exchange      |
      | a broker         |
      | a custodian      |
      | a payments firm  |
      | a miner          |
      | a software house |

  @hub_registration @v2026.1 @v2027.1
  Scenario: hub_registration is missing when registration is not filed
    Given its filing leaves out whether it is entered in the hub's register
    When the company is assessed
    Then criterion hub_registration is missing
    And a fix is shown for hub_registration

  # --- record_retention: T1, all activities: records kept at least 5 years

  @record_retention @v2026.1 @v2027.1
  Scenario Outline: record_retention - records are kept for at least 5 years
    Given it keeps client and transaction records for <years> years
    When the company is assessed
    Then criterion record_retention is <status>

    Examples:
      | years | status  |
      | 4     | not met |
      | 5     | met     |
      | 6     | met     |

  @record_retention @v2026.1 @v2027.1
  Scenario Outline: record_retention applies to every activity
    Given the company is <company>
    And it keeps client and transaction records for 2 years
    When the company is assessed
    Then criterion record_retention is not met

    Examples:
      | company          |
      | an exchange      |
      | a broker         |
      | a custodian      |
      | a payments firm  |
      | a miner          |
      | a software house |

  @record_retention @v2026.1 @v2027.1
  Scenario: record_retention is missing when the retention period is not filed
    Given its filing leaves out how long it keeps records
    When the company is assessed
    Then criterion record_retention is missing
    And a fix is shown for record_retention
