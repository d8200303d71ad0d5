Feature: Tiers - Registered, Transparent, Full disclosure
  A criterion is satisfied when it is met or does not apply to the company's
  activity. Tiers are cumulative: T1 "Registered" needs every T1 criterion
  satisfied; T2 "Transparent" needs T1 and every T2 criterion; T3 "Full
  disclosure" needs T2 and every T3 criterion. The company reaches the highest
  tier it satisfies, or no tier. A criterion whose input is missing is not
  satisfied. The scenarios start from a typical compliant exchange and show
  that each single unmet criterion costs the company its tier. Miners' tiers
  are in the mining feature.

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

  @v2026.1
  Rule: under 2026.1, tiers are cumulative: T1, then T2 on top of T1, then T3 on top of T2

    @no_sanctions @no_tax_arrears @hub_registration @valid_licence @key_officers
    @local_staff @kyc_baseline @record_retention @staff_as_declared @local_opex
    @qualifying_income @separate_accounting @regulatory_capital @kyc_complete
    @source_of_funds @destination_of_funds @travel_rule @suspicious_reporting
    @illicit_exposure_low @outflow_reporting @independent_board
    @illicit_exposure_minimal @cold_storage @proof_of_reserves
    Scenario: 2026.1 - the compliant exchange reaches T3, Full disclosure
      When the company is assessed
      Then it reaches tier T3
      And every criterion of the version is listed exactly once
      And the decision names the policy and its digest

    @no_sanctions @no_tax_arrears @hub_registration @valid_licence @key_officers
    @local_staff @kyc_baseline @record_retention
    Scenario Outline: 2026.1 - one T1 criterion unmet and the exchange reaches no tier
      Given <change>
      When the company is assessed
      Then criterion <criterion> is <status>
      And it reaches no tier

      Examples:
        | criterion        | change                                                       | status  |
        | no_sanctions     | it or an owner matches a sanctions list                      | not met |
        | no_tax_arrears   | it owes 1,000 KZT of overdue tax                             | not met |
        | hub_registration | it is not entered in the hub's register                      | not met |
        | valid_licence    | its licence expires the day before the assessment date       | not met |
        | key_officers     | its MLRO is not in post                                      | not met |
        | local_staff      | it employs 2 full-time staff in the zone                     | not met |
        | kyc_baseline     | its clients are 90% identity-verified                        | not met |
        | kyc_baseline     | its filing leaves out the share of identity-verified clients | missing |
        | record_retention | it keeps client and transaction records for 3 years          | not met |

    @staff_as_declared @local_opex @qualifying_income @separate_accounting
    @regulatory_capital @kyc_complete @source_of_funds @destination_of_funds
    @travel_rule @suspicious_reporting @illicit_exposure_low @outflow_reporting
    Scenario Outline: 2026.1 - one T2 criterion unmet and the exchange stays at T1, Registered
      Given <change>
      When the company is assessed
      Then criterion <criterion> is <status>
      And it reaches tier T1

      Examples:
        | criterion            | change                                                                        | status  |
        | staff_as_declared    | it employs 15 full-time staff in the zone                                     | not met |
        | local_opex           | it spends 40,000,000 KZT a year on operations in the zone                     | not met |
        | qualifying_income    | 80% of its income comes from qualifying hub activities                        | not met |
        | separate_accounting  | it does not keep separate accounts for qualifying income                      | not met |
        | regulatory_capital   | it holds USD 100,000 of regulatory capital                                    | not met |
        | kyc_complete         | its clients are 99% identity-verified                                         | not met |
        | source_of_funds      | the source of funds is documented for 90% of its large depositors             | not met |
        | destination_of_funds | the destination of funds is documented for 90% of its large withdrawers       | not met |
        | travel_rule          | 95% of its transfers carry complete originator and beneficiary data           | not met |
        | travel_rule          | it applies the travel rule from USD 3,000                                     | not met |
        | suspicious_reporting | it reports suspicious transactions in a median of 48 hours                    | not met |
        | illicit_exposure_low | 6% of its volume is flagged as linked to scams, gambling, sanctions or mixers | not met |
        | outflow_reporting    | it does not report cross-border outflows to the National Bank                 | not met |
        | local_opex           | its filing leaves out its operating expenditure in the zone                   | missing |

    @independent_board @illicit_exposure_minimal @cold_storage @proof_of_reserves
    Scenario Outline: 2026.1 - one T3 criterion unmet and the exchange stays at T2, Transparent
      Given <change>
      When the company is assessed
      Then criterion <criterion> is <status>
      And it reaches tier T2

      Examples:
        | criterion                | change                                                                        | status  |
        | independent_board        | 30% of its board is independent                                               | not met |
        | illicit_exposure_minimal | 3% of its volume is flagged as linked to scams, gambling, sanctions or mixers | not met |
        | cold_storage             | it keeps 80% of client assets in cold storage                                 | not met |
        | proof_of_reserves        | it publishes a proof of reserves every 180 days                               | not met |
        | cold_storage             | its filing leaves out its share of client assets in cold storage              | missing |

    @cold_storage @proof_of_reserves @regulatory_capital
    Scenario: 2026.1 - a payments firm needs no cold storage, reserves proofs or capital for T3
      Given the company is a payments firm
      And it holds a service provider licence
      And its filing leaves out its share of client assets in cold storage
      And its filing leaves out how often it publishes a proof of reserves
      And its filing leaves out its regulatory capital
      When the company is assessed
      Then criterion cold_storage is not applicable
      And criterion proof_of_reserves is not applicable
      And criterion regulatory_capital is not applicable
      And it reaches tier T3

    @valid_licence @key_officers @kyc_baseline @outflow_reporting @independent_board
    Scenario: 2026.1 - a software house reaches T3 on the criteria that apply to every activity
      Given the company is a software house
      And it holds no licence
      And it has appointed no key officers
      And its filing leaves out the share of identity-verified clients
      And its filing leaves out the share of independent directors
      And it does not report cross-border outflows to the National Bank
      When the company is assessed
      Then criterion valid_licence is not applicable
      And criterion key_officers is not applicable
      And criterion kyc_baseline is not applicable
      And criterion outflow_reporting is not applicable
      And criterion independent_board is not applicable
      And it reaches tier T3

    @no_sanctions @local_staff @separate_accounting
    Scenario: 2026.1 - a software house still needs the criteria that apply to every activity
      Given the company is a software house
      And it holds no licence
      And it does not keep separate accounts for qualifying income
      When the company is assessed
      Then criterion separate_accounting is not met
      And it reaches tier T1

  @v2027.1
  Rule: under 2027.1, tiers are cumulative: T1, then T2 on top of T1, then T3 on top of T2

    Background: under 2027.1 a client-facing company also files its self-hosted wallet checks
      Given it verified the owner in 100% of its transfers with self-hosted wallets

    @no_sanctions @no_tax_arrears @hub_registration @valid_licence @key_officers
    @local_staff @kyc_baseline @record_retention @staff_as_declared @local_opex
    @qualifying_income @separate_accounting @regulatory_capital @kyc_complete
    @source_of_funds @destination_of_funds @travel_rule @suspicious_reporting
    @illicit_exposure_low @outflow_reporting @unhosted_wallet_checks
    @independent_board @illicit_exposure_minimal @cold_storage @proof_of_reserves
    Scenario: 2027.1 - the compliant exchange reaches T3, Full disclosure
      When the company is assessed
      Then it reaches tier T3
      And every criterion of the version is listed exactly once
      And the decision names the policy and its digest

    @no_sanctions @no_tax_arrears @hub_registration @valid_licence @key_officers
    @local_staff @kyc_baseline @record_retention
    Scenario Outline: 2027.1 - one T1 criterion unmet and the exchange reaches no tier
      Given <change>
      When the company is assessed
      Then criterion <criterion> is <status>
      And it reaches no tier

      Examples:
        | criterion        | change                                                       | status  |
        | no_sanctions     | it or an owner matches a sanctions list                      | not met |
        | no_tax_arrears   | it owes 1,000 KZT of overdue tax                             | not met |
        | hub_registration | it is not entered in the hub's register                      | not met |
        | valid_licence    | its licence expires the day before the assessment date       | not met |
        | key_officers     | its MLRO is not in post                                      | not met |
        | local_staff      | it employs 2 full-time staff in the zone                     | not met |
        | kyc_baseline     | its clients are 90% identity-verified                        | not met |
        | kyc_baseline     | its filing leaves out the share of identity-verified clients | missing |
        | record_retention | it keeps client and transaction records for 3 years          | not met |

    @staff_as_declared @local_opex @qualifying_income @separate_accounting
    @regulatory_capital @kyc_complete @source_of_funds @destination_of_funds
    @travel_rule @suspicious_reporting @illicit_exposure_low @outflow_reporting
    @unhosted_wallet_checks
    Scenario Outline: 2027.1 - one T2 criterion unmet and the exchange stays at T1, Registered
      Given <change>
      When the company is assessed
      Then criterion <criterion> is <status>
      And it reaches tier T1

      Examples:
        | criterion              | change                                                                                | status  |
        | staff_as_declared      | it employs 15 full-time staff in the zone                                             | not met |
        | local_opex             | it spends 40,000,000 KZT a year on operations in the zone                             | not met |
        | qualifying_income      | 80% of its income comes from qualifying hub activities                                | not met |
        | separate_accounting    | it does not keep separate accounts for qualifying income                              | not met |
        | regulatory_capital     | it holds USD 100,000 of regulatory capital                                            | not met |
        | kyc_complete           | its clients are 99% identity-verified                                                 | not met |
        | source_of_funds        | the source of funds is documented for 90% of its large depositors                     | not met |
        | destination_of_funds   | the destination of funds is documented for 90% of its large withdrawers               | not met |
        | travel_rule            | 95% of its transfers carry complete originator and beneficiary data                   | not met |
        | travel_rule            | it applies the travel rule from USD 3,000                                             | not met |
        | suspicious_reporting   | it reports suspicious transactions in a median of 48 hours                            | not met |
        | illicit_exposure_low   | 6% of its volume is flagged as linked to scams, gambling, sanctions or mixers         | not met |
        | outflow_reporting      | it does not report cross-border outflows to the National Bank                         | not met |
        | local_opex             | its filing leaves out its operating expenditure in the zone                           | missing |
        | unhosted_wallet_checks | it verified the owner in 99.9% of its transfers with self-hosted wallets              | not met |
        | unhosted_wallet_checks | its filing leaves out the share of self-hosted wallet transfers with a verified owner | missing |

    @independent_board @illicit_exposure_minimal @cold_storage @proof_of_reserves
    Scenario Outline: 2027.1 - one T3 criterion unmet and the exchange stays at T2, Transparent
      Given <change>
      When the company is assessed
      Then criterion <criterion> is <status>
      And it reaches tier T2

      Examples:
        | criterion                | change                                                                        | status  |
        | independent_board        | 30% of its board is independent                                               | not met |
        | illicit_exposure_minimal | 3% of its volume is flagged as linked to scams, gambling, sanctions or mixers | not met |
        | cold_storage             | it keeps 80% of client assets in cold storage                                 | not met |
        | proof_of_reserves        | it publishes a proof of reserves every 180 days                               | not met |
        | cold_storage             | its filing leaves out its share of client assets in cold storage              | missing |

    @cold_storage @proof_of_reserves @regulatory_capital
    Scenario: 2027.1 - a payments firm needs no cold storage, reserves proofs or capital for T3
      Given the company is a payments firm
      And it holds a service provider licence
      And its filing leaves out its share of client assets in cold storage
      And its filing leaves out how often it publishes a proof of reserves
      And its filing leaves out its regulatory capital
      When the company is assessed
      Then criterion cold_storage is not applicable
      And criterion proof_of_reserves is not applicable
      And criterion regulatory_capital is not applicable
      And it reaches tier T3

    @valid_licence @key_officers @kyc_baseline @outflow_reporting @independent_board
    Scenario: 2027.1 - a software house reaches T3 on the criteria that apply to every activity
      Given the company is a software house
      And it holds no licence
      And it has appointed no key officers
      And its filing leaves out the share of identity-verified clients
      And its filing leaves out the share of independent directors
      And it does not report cross-border outflows to the National Bank
      When the company is assessed
      Then criterion valid_licence is not applicable
      And criterion key_officers is not applicable
      And criterion kyc_baseline is not applicable
      And criterion outflow_reporting is not applicable
      And criterion independent_board is not applicable
      And it reaches tier T3

    @no_sanctions @local_staff @separate_accounting
    Scenario: 2027.1 - a software house still needs the criteria that apply to every activity
      Given the company is a software house
      And it holds no licence
      And it does not keep separate accounts for qualifying income
      When the company is assessed
      Then criterion separate_accounting is not met
      And it reaches tier T1
