Feature: A filing is checked before it is assessed
  A filing that breaks a rule of form is rejected as a whole, with an error
  per offending field, and never assessed. Unknown field names are errors, so
  a typo cannot silently become a missing input. Types are strict: a number
  is not text, an integer has no fraction. Percentages lie between 0 and 100;
  money, counts, hours and days are not negative; proofs of reserves are at
  least a day apart. The BIN is the 12-digit Kazakh business identification
  number: digits only, the 5th digit 4 (resident) or 5 (non-resident legal
  entity), and a valid check digit. The legal name has 1 to 200 characters
  after trimming. BIN, legal name and activity are required; every other input
  may be left out.

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

  @validation @v2026.1 @v2027.1
  Scenario Outline: valid BINs of residents and non-residents are accepted
    Given its BIN is <bin>
    When the company is assessed
    Then the filing is accepted

    Examples: check digit from the first weights, from the second weights, non-resident
      | bin          |
      | 940140000385 |
      | 940140000909 |
      | 990140004654 |

  @validation @v2026.1 @v2027.1
  Scenario Outline: a malformed BIN is rejected
    Given its BIN is <bin>
    When the company is assessed
    Then the filing is rejected with an error on bin

    Examples: wrong check digit, no check digit possible, wrong 5th digit, wrong length, not digits
      | bin           |
      | 940140000386  |
      | 940140000960  |
      | 940130000385  |
      | 94014000038   |
      | 9401400003850 |
      | 94014000038X  |

  @validation @v2026.1 @v2027.1
  Scenario Outline: a required field may not be left out
    Given its filing leaves out <what>
    When the company is assessed
    Then the filing is rejected with an error on <field>

    Examples:
      | what           | field      |
      | its BIN        | bin        |
      | its legal name | legal_name |
      | its activity   | activity   |

  @validation @v2026.1 @v2027.1
  Scenario Outline: the legal name has 1 to 200 characters after trimming
    Given the filing field "legal_name" is <name>
    When the company is assessed
    Then the filing is rejected with an error on legal_name

    Examples:
      | name  |
      | ""    |
      | "   " |

  @validation @v2026.1 @v2027.1
  Scenario Outline: a legal name of up to 200 characters is accepted
    Given its legal name is <length> characters long
    When the company is assessed
    Then the filing is <outcome>

    Examples:
      | length | outcome                              |
      | 1      | accepted                             |
      | 200    | accepted                             |
      | 201    | rejected with an error on legal_name |

  @validation @v2026.1 @v2027.1
  Scenario: a misspelt field name is an error, not a missing input
    Given the filing field "kyc_verified_client_pct" is 99
    When the company is assessed
    Then the filing is rejected with an error on kyc_verified_client_pct

  @validation @v2026.1 @v2027.1
  Scenario Outline: types are strict
    Given the filing field "<field>" is <value>
    When the company is assessed
    Then the filing is rejected with an error on <field>

    Examples:
      | field                    | value        |
      | kyc_verified_clients_pct | "95"         |
      | kyc_verified_clients_pct | true         |
      | fte_in_zone              | 2.5          |
      | registered_in_hub        | "yes"        |
      | registered_in_hub        | 1            |
      | licence_expires_on       | "31.12.2030" |
      | licence_expires_on       | "2030-02-30" |
      | bin                      | 940140000385 |
      | activity                 | "bank"       |
      | officers_appointed       | ["CEO"]      |
      | kyc_verified_clients_pct | NaN          |
      | kyc_verified_clients_pct | Infinity     |
      | opex_in_zone_kzt         | -Infinity    |

  @validation @v2026.1 @v2027.1
  Scenario Outline: figures must lie in their range
    Given <situation>
    When the company is assessed
    Then the filing is rejected with an error on <field>

    Examples:
      | situation                                                  | field                           |
      | its clients are 100.1% identity-verified                   | kyc_verified_clients_pct        |
      | its clients are -1% identity-verified                      | kyc_verified_clients_pct        |
      | it owes -5 KZT of overdue tax                              | tax_arrears_kzt                 |
      | it employs -1 full-time staff in the zone                  | fte_in_zone                     |
      | it reports suspicious transactions in a median of -1 hours | str_median_hours                |
      | it publishes a proof of reserves every 0 days              | proof_of_reserves_interval_days |
      | its in-zone property is worth -1 KZT                       | property_value_kzt              |

  # The engine compares numbers as doubles: beyond these bounds it would compare them
  # wrongly (10^18 and 10^18 - 1 are the same double), so they are refused.
  @validation @v2026.1 @v2027.1
  Scenario Outline: figures beyond what can be compared exactly are rejected
    Given <situation>
    When the company is assessed
    Then the filing is rejected with an error on <field>

    Examples:
      | situation                                                           | field            |
      | it employs 9,007,199,254,740,992 full-time staff in the zone        | fte_in_zone      |
      | it declared 1,000,000,000,000,000,000 full-time staff in its hub application | fte_declared |
      | the filing field "opex_in_zone_kzt" is 10000000000000               | opex_in_zone_kzt |

  @validation @v2026.1 @v2027.1
  Scenario: figures at the largest values compared exactly are accepted
    Given it declared 9,007,199,254,740,991 full-time staff in its hub application
    And it employs 9,007,199,254,740,991 full-time staff in the zone
    And the filing field "opex_in_zone_kzt" is 9999999999999.99
    When the company is assessed
    Then the filing is accepted

  @validation @v2026.1 @v2027.1
  Scenario: figures at the edges of their range are accepted
    Given its clients are 0% identity-verified
    And it publishes a proof of reserves every 1 days
    And it owes 0 KZT of overdue tax
    When the company is assessed
    Then the filing is accepted
