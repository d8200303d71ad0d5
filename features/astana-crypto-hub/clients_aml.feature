Feature: Clients, anti-money-laundering and reporting
  A client-facing company (exchange, broker, custodian, payments firm) knows
  its clients and can explain where money comes from and where it goes. At T1
  at least 95% of its clients are identity-verified under 2026.1 (97% under
  2027.1) (FATF Recommendation 10). At T2 every client is verified; the source
  of funds is documented for at least 95% of clients depositing USD 10,000 or
  more a year, and the destination of funds for at least 95% of those
  withdrawing as much; at least 99% of transfers carry complete originator and
  beneficiary data, with the travel rule applied from USD 1,000 or less (FATF
  Recommendation 16); suspicious transactions are reported within a median
  of 24 hours (FATF Recommendation 20); at most 5% of volume is flagged as
  linked to scams, gambling, sanctions or mixers. At T3 at most 2% is flagged.
  Every company but a software house reports cross-border outflows to the
  National Bank (T2).

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

  # --- kyc_baseline: T1, client-facing: identity-verified clients (95% under 2026.1, 97% under 2027.1)

  @kyc_baseline
  Scenario Outline: kyc_baseline - identity-verified clients at and around the baseline
    Given its clients are <pct>% identity-verified
    When the company is assessed
    Then criterion kyc_baseline is <status>

    @v2026.1
    Examples: under 2026.1 at least 95% of clients are verified
      | pct  | status  |
      | 50   | not met |
      | 94.9 | not met |
      | 95   | met     |
      | 95.1 | met     |
      | 96   | met     |

    @v2027.1
    Examples: under 2027.1 at least 97% of clients are verified
      | pct  | status  |
      | 95   | not met |
      | 96.9 | not met |
      | 97   | met     |
      | 97.1 | met     |

  @kyc_baseline @v2026.1 @v2027.1
  Scenario Outline: kyc_baseline applies to client-facing companies only
    Given the company is <company>
    And its clients are 50% identity-verified
    When the company is assessed
    Then criterion kyc_baseline is <status>

    Examples:
      | company          | status         |
      | an exchange      | not met        |
      | a broker         | not met        |
      | a custodian      | not met        |
      | a payments firm  | not met        |
      | a miner          | not applicable |
      | a software house | not applicable |

  @kyc_baseline @v2026.1 @v2027.1
  Scenario: kyc_baseline is missing when the share of verified clients is not filed
    Given its filing leaves out the share of identity-verified clients
    When the company is assessed
    Then criterion kyc_baseline is missing
    And a fix is shown for kyc_baseline

  @kyc_baseline @v2026.1 @v2027.1
  Scenario: kyc_baseline is missing when the share of verified clients is filed as null
    Given the filing field "kyc_verified_clients_pct" is null
    When the company is assessed
    Then criterion kyc_baseline is missing

  @kyc_baseline @v2026.1 @v2027.1
  Scenario: kyc_baseline does not apply to a miner even when the share is not filed
    Given the company is a miner
    And its filing leaves out the share of identity-verified clients
    When the company is assessed
    Then criterion kyc_baseline is not applicable

  # --- kyc_complete: T2, client-facing: every client identity-verified

  @kyc_complete @v2026.1 @v2027.1
  Scenario Outline: kyc_complete - every single client is identity-verified
    Given its clients are <pct>% identity-verified
    When the company is assessed
    Then criterion kyc_complete is <status>

    Examples:
      | pct  | status  |
      | 99.9 | not met |
      | 100  | met     |

  @kyc_complete @v2026.1 @v2027.1
  Scenario Outline: kyc_complete applies to client-facing companies only
    Given the company is <company>
    And its clients are 99% identity-verified
    When the company is assessed
    Then criterion kyc_complete is <status>

    Examples:
      | company          | status         |
      | an exchange      | not met        |
      | a broker         | not met        |
      | a custodian      | not met        |
      | a payments firm  | not met        |
      | a miner          | not applicable |
      | a software house | not applicable |

  @kyc_complete @v2026.1 @v2027.1
  Scenario: kyc_complete is missing when the share of verified clients is not filed
    Given its filing leaves out the share of identity-verified clients
    When the company is assessed
    Then criterion kyc_complete is missing
    And a fix is shown for kyc_complete

  # --- source_of_funds: T2, client-facing: source of funds documented for 95% of large depositors

  @source_of_funds @v2026.1 @v2027.1
  Scenario Outline: source_of_funds - the source of funds of large depositors is documented
    Given the source of funds is documented for <pct>% of its large depositors
    When the company is assessed
    Then criterion source_of_funds is <status>

    Examples:
      | pct  | status  |
      | 94.9 | not met |
      | 95   | met     |
      | 95.1 | met     |

  @source_of_funds @v2026.1 @v2027.1
  Scenario Outline: source_of_funds applies to client-facing companies only
    Given the company is <company>
    And the source of funds is documented for 50% of its large depositors
    When the company is assessed
    Then criterion source_of_funds is <status>

    Examples:
      | company          | status         |
      | an exchange      | not met        |
      | a broker         | not met        |
      | a custodian      | not met        |
      | a payments firm  | not met        |
      | a miner          | not applicable |
      | a software house | not applicable |

  @source_of_funds @v2026.1 @v2027.1
  Scenario: source_of_funds is missing when the documented share is not filed
    Given its filing leaves out the share of large depositors with a documented source of funds
    When the company is assessed
    Then criterion source_of_funds is missing
    And a fix is shown for source_of_funds

  # --- destination_of_funds: T2, client-facing: destination documented for 95% of large withdrawers

  @destination_of_funds @v2026.1 @v2027.1
  Scenario Outline: destination_of_funds - the destination of funds of large withdrawers is documented
    Given the destination of funds is documented for <pct>% of its large withdrawers
    When the company is assessed
    Then criterion destination_of_funds is <status>

    Examples:
      | pct  | status  |
      | 94.9 | not met |
      | 95   | met     |
      | 95.1 | met     |

  @destination_of_funds @v2026.1 @v2027.1
  Scenario Outline: destination_of_funds applies to client-facing companies only
    Given the company is <company>
    And the destination of funds is documented for 50% of its large withdrawers
    When the company is assessed
    Then criterion destination_of_funds is <status>

    Examples:
      | company          | status         |
      | an exchange      | not met        |
      | a broker         | not met        |
      | a custodian      | not met        |
      | a payments firm  | not met        |
      | a miner          | not applicable |
      | a software house | not applicable |

  @destination_of_funds @v2026.1 @v2027.1
  Scenario: destination_of_funds is missing when the documented share is not filed
    Given its filing leaves out the share of large withdrawers with a documented destination of funds
    When the company is assessed
    Then criterion destination_of_funds is missing
    And a fix is shown for destination_of_funds

  # --- travel_rule: T2, client-facing: 99% of transfers carry full data, applied from USD 1,000 or less

  @travel_rule @v2026.1 @v2027.1
  Scenario Outline: travel_rule - at least 99% of transfers carry complete originator and beneficiary data
    Given <pct>% of its transfers carry complete originator and beneficiary data
    When the company is assessed
    Then criterion travel_rule is <status>

    Examples:
      | pct  | status  |
      | 98.9 | not met |
      | 99   | met     |
      | 99.1 | met     |

  @travel_rule @v2026.1 @v2027.1
  Scenario Outline: travel_rule - the travel rule applies from USD 1,000 or less
    Given it applies the travel rule from USD <threshold>
    When the company is assessed
    Then criterion travel_rule is <status>

    Examples:
      | threshold | status  |
      | 0         | met     |
      | 999       | met     |
      | 1,000     | met     |
      | 1,001     | not met |
      | 3,000     | not met |

  @travel_rule @v2026.1 @v2027.1
  Scenario Outline: travel_rule applies to client-facing companies only
    Given the company is <company>
    And 98% of its transfers carry complete originator and beneficiary data
    When the company is assessed
    Then criterion travel_rule is <status>

    Examples:
      | company          | status         |
      | an exchange      | not met        |
      | a broker         | not met        |
      | a custodian      | not met        |
      | a payments firm  | not met        |
      | a miner          | not applicable |
      | a software house | not applicable |

  @travel_rule @v2026.1 @v2027.1
  Scenario Outline: travel_rule is missing when either travel-rule figure is not filed
    Given its filing leaves out <what>
    When the company is assessed
    Then criterion travel_rule is missing
    And a fix is shown for travel_rule

    Examples:
      | what                                                  |
      | the share of transfers with complete travel-rule data |
      | the amount from which it applies the travel rule      |

  # --- suspicious_reporting: T2, client-facing: suspicious transactions reported within a median of 24 hours

  @suspicious_reporting @v2026.1 @v2027.1
  Scenario Outline: suspicious_reporting - suspicious transactions are reported within a median of 24 hours
    Given it reports suspicious transactions in a median of <hours> hours
    When the company is assessed
    Then criterion suspicious_reporting is <status>

    Examples:
      | hours | status  |
      | 23.9  | met     |
      | 24    | met     |
      | 24.1  | not met |
      | 72    | not met |

  @suspicious_reporting @v2026.1 @v2027.1
  Scenario Outline: suspicious_reporting applies to client-facing companies only
    Given the company is <company>
    And it reports suspicious transactions in a median of 48 hours
    When the company is assessed
    Then criterion suspicious_reporting is <status>

    Examples:
      | company          | status         |
      | an exchange      | not met        |
      | a broker         | not met        |
      | a custodian      | not met        |
      | a payments firm  | not met        |
      | a miner          | not applicable |
      | a software house | not applicable |

  @suspicious_reporting @v2026.1 @v2027.1
  Scenario: suspicious_reporting is missing when the reporting time is not filed
    Given its filing leaves out its median time to report suspicious transactions
    When the company is assessed
    Then criterion suspicious_reporting is missing
    And a fix is shown for suspicious_reporting

  # --- illicit_exposure_low: T2, client-facing: at most 5% of volume flagged

  @illicit_exposure_low @v2026.1 @v2027.1
  Scenario Outline: illicit_exposure_low - at most 5% of volume is flagged as illicit
    Given <pct>% of its volume is flagged as linked to scams, gambling, sanctions or mixers
    When the company is assessed
    Then criterion illicit_exposure_low is <status>

    Examples:
      | pct | status  |
      | 0   | met     |
      | 4.9 | met     |
      | 5   | met     |
      | 5.1 | not met |

  @illicit_exposure_low @v2026.1 @v2027.1
  Scenario Outline: illicit_exposure_low applies to client-facing companies only
    Given the company is <company>
    And 10% of its volume is flagged as linked to scams, gambling, sanctions or mixers
    When the company is assessed
    Then criterion illicit_exposure_low is <status>

    Examples:
      | company          | status         |
      | an exchange      | not met        |
      | a broker         | not met        |
      | a custodian      | not met        |
      | a payments firm  | not met        |
      | a miner          | not applicable |
      | a software house | not applicable |

  @illicit_exposure_low @v2026.1 @v2027.1
  Scenario: illicit_exposure_low is missing when the flagged share is not filed
    Given its filing leaves out its share of flagged volume
    When the company is assessed
    Then criterion illicit_exposure_low is missing
    And a fix is shown for illicit_exposure_low

  # --- illicit_exposure_minimal: T3, client-facing: at most 2% of volume flagged

  @illicit_exposure_minimal @v2026.1 @v2027.1
  Scenario Outline: illicit_exposure_minimal - at most 2% of volume is flagged as illicit
    Given <pct>% of its volume is flagged as linked to scams, gambling, sanctions or mixers
    When the company is assessed
    Then criterion illicit_exposure_minimal is <status>

    Examples:
      | pct | status  |
      | 1.9 | met     |
      | 2   | met     |
      | 2.1 | not met |

  @illicit_exposure_minimal @v2026.1 @v2027.1
  Scenario Outline: illicit_exposure_minimal applies to client-facing companies only
    Given the company is <company>
    And 3% of its volume is flagged as linked to scams, gambling, sanctions or mixers
    When the company is assessed
    Then criterion illicit_exposure_minimal is <status>

    Examples:
      | company          | status         |
      | an exchange      | not met        |
      | a broker         | not met        |
      | a custodian      | not met        |
      | a payments firm  | not met        |
      | a miner          | not applicable |
      | a software house | not applicable |

  @illicit_exposure_minimal @v2026.1 @v2027.1
  Scenario: illicit_exposure_minimal is missing when the flagged share is not filed
    Given its filing leaves out its share of flagged volume
    When the company is assessed
    Then criterion illicit_exposure_minimal is missing
    And a fix is shown for illicit_exposure_minimal

  # --- outflow_reporting: T2, every activity but software: cross-border outflows reported to the National Bank

  @outflow_reporting @v2026.1 @v2027.1
  Scenario Outline: outflow_reporting - cross-border outflows are reported to the National Bank
    Given <reporting>
    When the company is assessed
    Then criterion outflow_reporting is <status>

    Examples:
      | reporting                                                     | status  |
      | it reports cross-border outflows to the National Bank         | met     |
      | it does not report cross-border outflows to the National Bank | not met |

  @outflow_reporting @v2026.1 @v2027.1
  Scenario Outline: outflow_reporting applies to every activity but software
    Given the company is <company>
    And it does not report cross-border outflows to the National Bank
    When the company is assessed
    Then criterion outflow_reporting is <status>

    Examples:
      | company          | status         |
      | an exchange      | not met        |
      | a broker         | not met        |
      | a custodian      | not met        |
      | a payments firm  | not met        |
      | a miner          | not met        |
      | a software house | not applicable |

  @outflow_reporting @v2026.1 @v2027.1
  Scenario: outflow_reporting is missing when outflow reporting is not filed
    Given its filing leaves out whether it reports cross-border outflows
    When the company is assessed
    Then criterion outflow_reporting is missing
    And a fix is shown for outflow_reporting
