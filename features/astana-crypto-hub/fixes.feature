Feature: What to change - the fix shown for an unmet numeric criterion
  Every criterion that is not met or missing tells the company what to change
  and cites its rule. Where the condition is numeric, the fix names the input,
  the company's figure and the figure it must reach ("raise
  kyc_verified_clients_pct from 92.5 to at least 95"). Mining fixes are in the
  mining feature, the self-hosted wallet fix in its own feature.

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

  Scenario Outline: the fix for <criterion> names the figure filed and the figure to reach
    Given <situation>
    When the company is assessed
    Then criterion <criterion> is not met
    And the fix for <criterion> asks to <fix>
    And criterion <criterion> cites its rule

    @no_tax_arrears @v2026.1 @v2027.1
    Examples: no_tax_arrears
      | criterion      | situation                        | fix                                           |
      | no_tax_arrears | it owes 2,500 KZT of overdue tax | lower tax_arrears_kzt from 2,500 to at most 0 |

    @local_staff @v2026.1 @v2027.1
    Examples: local_staff
      | criterion   | situation                                | fix                                    |
      | local_staff | it employs 2 full-time staff in the zone | raise fte_in_zone from 2 to at least 3 |

    @kyc_baseline @v2026.1
    Examples: kyc_baseline under 2026.1
      | criterion    | situation                               | fix                                                     |
      | kyc_baseline | its clients are 92.5% identity-verified | raise kyc_verified_clients_pct from 92.5 to at least 95 |

    @kyc_baseline @v2027.1
    Examples: kyc_baseline under 2027.1
      | criterion    | situation                               | fix                                                     |
      | kyc_baseline | its clients are 92.5% identity-verified | raise kyc_verified_clients_pct from 92.5 to at least 97 |

    @record_retention @v2026.1 @v2027.1
    Examples: record_retention
      | criterion        | situation                                           | fix                                               |
      | record_retention | it keeps client and transaction records for 3 years | raise record_retention_years from 3 to at least 5 |

    @staff_as_declared @v2026.1 @v2027.1
    Examples: staff_as_declared
      | criterion         | situation                                 | fix                                      |
      | staff_as_declared | it employs 15 full-time staff in the zone | raise fte_in_zone from 15 to at least 16 |

    @local_opex @v2026.1
    Examples: local_opex under 2026.1
      | criterion  | situation                                                 | fix                                                           |
      | local_opex | it spends 30,000,000 KZT a year on operations in the zone | raise opex_in_zone_kzt from 30,000,000 to at least 50,000,000 |

    @local_opex @v2027.1
    Examples: local_opex under 2027.1
      | criterion  | situation                                                 | fix                                                           |
      | local_opex | it spends 30,000,000 KZT a year on operations in the zone | raise opex_in_zone_kzt from 30,000,000 to at least 60,000,000 |

    @qualifying_income @v2026.1 @v2027.1
    Examples: qualifying_income
      | criterion         | situation                                              | fix                                                |
      | qualifying_income | 85% of its income comes from qualifying hub activities | raise qualifying_income_pct from 85 to at least 90 |

    @regulatory_capital @v2026.1 @v2027.1
    Examples: regulatory_capital
      | criterion          | situation                                  | fix                                                           |
      | regulatory_capital | it holds USD 100,000 of regulatory capital | raise regulatory_capital_usd from 100,000 to at least 250,000 |

    @kyc_complete @v2026.1 @v2027.1
    Examples: kyc_complete
      | criterion    | situation                               | fix                                                      |
      | kyc_complete | its clients are 99.5% identity-verified | raise kyc_verified_clients_pct from 99.5 to at least 100 |

    @source_of_funds @v2026.1 @v2027.1
    Examples: source_of_funds
      | criterion       | situation                                                         | fix                                                         |
      | source_of_funds | the source of funds is documented for 80% of its large depositors | raise source_of_funds_documented_pct from 80 to at least 95 |

    @destination_of_funds @v2026.1 @v2027.1
    Examples: destination_of_funds
      | criterion            | situation                                                               | fix                                                              |
      | destination_of_funds | the destination of funds is documented for 80% of its large withdrawers | raise destination_of_funds_documented_pct from 80 to at least 95 |

    @travel_rule @v2026.1 @v2027.1
    Examples: travel_rule
      | criterion   | situation                                                           | fix                                                    |
      | travel_rule | 97% of its transfers carry complete originator and beneficiary data | raise travel_rule_compliant_pct from 97 to at least 99 |

    @travel_rule @v2026.1 @v2027.1
    Examples: travel_rule
      | criterion   | situation                                 | fix                                                         |
      | travel_rule | it applies the travel rule from USD 3,000 | lower travel_rule_threshold_usd from 3,000 to at most 1,000 |

    @suspicious_reporting @v2026.1 @v2027.1
    Examples: suspicious_reporting
      | criterion            | situation                                                  | fix                                          |
      | suspicious_reporting | it reports suspicious transactions in a median of 30 hours | lower str_median_hours from 30 to at most 24 |

    @illicit_exposure_low @v2026.1 @v2027.1
    Examples: illicit_exposure_low
      | criterion            | situation                                                                       | fix                                          |
      | illicit_exposure_low | 7.5% of its volume is flagged as linked to scams, gambling, sanctions or mixers | lower flagged_flow_pct from 7.5 to at most 5 |

    @illicit_exposure_minimal @v2026.1 @v2027.1
    Examples: illicit_exposure_minimal
      | criterion                | situation                                                                       | fix                                          |
      | illicit_exposure_minimal | 3.5% of its volume is flagged as linked to scams, gambling, sanctions or mixers | lower flagged_flow_pct from 3.5 to at most 2 |

    @independent_board @v2026.1 @v2027.1
    Examples: independent_board
      | criterion         | situation                       | fix                                                      |
      | independent_board | 25% of its board is independent | raise independent_directors_pct from 25 to at least 33.3 |

    @cold_storage @v2026.1 @v2027.1
    Examples: cold_storage
      | criterion    | situation                                     | fix                                           |
      | cold_storage | it keeps 75% of client assets in cold storage | raise cold_storage_pct from 75 to at least 90 |

    @proof_of_reserves @v2026.1 @v2027.1
    Examples: proof_of_reserves
      | criterion         | situation                                       | fix                                                          |
      | proof_of_reserves | it publishes a proof of reserves every 120 days | lower proof_of_reserves_interval_days from 120 to at most 90 |
