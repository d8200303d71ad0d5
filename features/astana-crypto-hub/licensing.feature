Feature: Licensing and key officers
  A company must hold the licence its activity needs, valid on the assessment
  date: an exchange a trading facility licence; a broker, custodian or
  payments firm a service provider licence; a miner a digital mining licence
  (AFSA rules 2.1 and 3.1). A blockchain software house needs no licence. A
  client-facing company (exchange, broker, custodian, payments firm) must also
  have its five key officers in post: senior executive (SEO), finance (FO),
  compliance (CO), money-laundering reporting (MLRO) and chief IT officer
  (CITO) (AFSA rule 2.3.1). Both are T1 criteria.

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

  # --- valid_licence: T1, every activity but software

  @valid_licence @v2026.1 @v2027.1
  Scenario Outline: valid_licence - each activity needs its own licence
    Given the company is <company>
    And it holds <licence>
    When the company is assessed
    Then criterion valid_licence is <status>

    Examples:
      | company          | licence                    | status         |
      | an exchange      | a trading facility licence | met            |
      | an exchange      | a service provider licence | not met        |
      | an exchange      | a mining licence           | not met        |
      | an exchange      | no licence                 | not met        |
      | a broker         | a service provider licence | met            |
      | a broker         | a trading facility licence | not met        |
      | a custodian      | a service provider licence | met            |
      | a custodian      | no licence                 | not met        |
      | a payments firm  | a service provider licence | met            |
      | a payments firm  | a mining licence           | not met        |
      | a miner          | a mining licence           | met            |
      | a miner          | a service provider licence | not met        |
      | a software house | no licence                 | not applicable |
      | a software house | a trading facility licence | not applicable |

  @valid_licence @v2026.1 @v2027.1
  Scenario Outline: valid_licence - the licence must still be valid on the assessment date
    Given the company is <company>
    And it holds <licence>
    And its licence expires <when> the assessment date
    When the company is assessed
    Then criterion valid_licence is <status>

    Examples:
      | company         | licence                    | when           | status  |
      | an exchange     | a trading facility licence | the day before | not met |
      | an exchange     | a trading facility licence | on             | met     |
      | an exchange     | a trading facility licence | the day after  | met     |
      | a broker        | a service provider licence | the day before | not met |
      | a broker        | a service provider licence | on             | met     |
      | a broker        | a service provider licence | the day after  | met     |
      | a custodian     | a service provider licence | the day before | not met |
      | a custodian     | a service provider licence | on             | met     |
      | a payments firm | a service provider licence | the day after  | met     |
      | a miner         | a mining licence           | the day before | not met |
      | a miner         | a mining licence           | on             | met     |
      | a miner         | a mining licence           | the day after  | met     |

  @valid_licence @v2026.1
  Scenario: valid_licence - a licence valid until a fixed date lapses after it
    Given it holds a trading facility licence valid until 2026-09-30
    And the assessment date is 2026-10-01
    When the company is assessed
    Then criterion valid_licence is not met
    And a fix is shown for valid_licence

  @valid_licence @v2026.1 @v2027.1
  Scenario Outline: valid_licence is missing when the licence is not filed
    Given its filing leaves out <what>
    When the company is assessed
    Then criterion valid_licence is missing
    And a fix is shown for valid_licence

    Examples:
      | what                    |
      | its licence type        |
      | its licence expiry date |

  # --- key_officers: T1, client-facing: SEO, FO, CO, MLRO and CITO all in post

  @key_officers @v2026.1 @v2027.1
  Scenario: key_officers - all five officers in post
    Given it has appointed the key officers SEO, FO, CO, MLRO and CITO
    When the company is assessed
    Then criterion key_officers is met
    And no fix is shown for key_officers

  @key_officers @v2026.1 @v2027.1
  Scenario Outline: key_officers - any one officer missing fails the criterion
    Given its <officer> is not in post
    When the company is assessed
    Then criterion key_officers is not met
    And a fix is shown for key_officers

    Examples:
      | officer |
      | SEO     |
      | FO      |
      | CO      |
      | MLRO    |
      | CITO    |

  @key_officers @v2026.1 @v2027.1
  Scenario: key_officers - no officers at all
    Given it has appointed no key officers
    When the company is assessed
    Then criterion key_officers is not met

  @key_officers @v2026.1 @v2027.1
  Scenario Outline: key_officers applies to client-facing companies only
    Given the company is <company>
    And it has appointed no key officers
    When the company is assessed
    Then criterion key_officers is <status>

    Examples:
      | company          | status         |
      | an exchange      | not met        |
      | a broker         | not met        |
      | a custodian      | not met        |
      | a payments firm  | not met        |
      | a miner          | not applicable |
      | a software house | not applicable |

  @key_officers @v2026.1 @v2027.1
  Scenario: key_officers is missing when the officers are not filed
    Given its filing leaves out its key officers
    When the company is assessed
    Then criterion key_officers is missing
    And a fix is shown for key_officers
