Feature: Mining
  A miner holds a digital mining licence (see the licensing feature), meters the
  power its equipment draws (T1), sells at least 75% of the assets it mines
  through hub-licensed exchanges (T2, Kazakhstan's digital mining law) and has
  signed the grid operator's winter peak curtailment agreement (T2). At T3 at
  least 50% of its power comes from renewable sources. A miner that reaches T2
  with renewables at or above that share pays a digital mining fee of 1 KZT
  instead of 10 KZT per kWh. Client-facing criteria do not apply to a miner.

  Background: a typical compliant miner
    Given a miner "Ekibastuz Hashpower LLP" with BIN 990140004654
    And it is entered in the hub's register
    And it holds a mining licence valid until 2030-12-31
    And it declared 10 full-time staff in its hub application
    And it employs 10 full-time staff in the zone
    And it spends 80,000,000 KZT a year on operations in the zone
    And 95% of its income comes from qualifying hub activities
    And it keeps separate accounts for qualifying income
    And neither it nor any owner matches a sanctions list
    And it owes 0 KZT of overdue tax
    And it keeps client and transaction records for 7 years
    And it reports cross-border outflows to the National Bank
    And its mining power is metered
    And it sells 80% of its mined assets through hub-licensed exchanges
    And 60% of its mining power comes from renewable sources
    And it has signed the winter peak curtailment agreement

  # --- metered_power: T1, mining: power consumption metered

  @metered_power @v2026.1 @v2027.1
  Scenario Outline: metered_power - the mining power consumption is metered
    Given <metering>
    When the company is assessed
    Then criterion metered_power is <status>

    Examples:
      | metering                        | status  |
      | its mining power is metered     | met     |
      | its mining power is not metered | not met |

  @metered_power @v2026.1 @v2027.1
  Scenario Outline: metered_power applies to miners only
    Given the company is <company>
    And its mining power is not metered
    When the company is assessed
    Then criterion metered_power is <status>

    Examples:
      | company          | status         |
      | an exchange      | not applicable |
      | a broker         | not applicable |
      | a custodian      | not applicable |
      | a payments firm  | not applicable |
      | a miner          | not met        |
      | a software house | not applicable |

  @metered_power @v2026.1 @v2027.1
  Scenario: metered_power is missing when metering is not filed
    Given its filing leaves out whether its mining power is metered
    When the company is assessed
    Then criterion metered_power is missing
    And a fix is shown for metered_power

  # --- exchange_sales: T2, mining: at least 75% of mined assets sold through hub-licensed exchanges

  @exchange_sales @v2026.1 @v2027.1
  Scenario Outline: exchange_sales - at least 75% of mined assets are sold through hub-licensed exchanges
    Given it sells <pct>% of its mined assets through hub-licensed exchanges
    When the company is assessed
    Then criterion exchange_sales is <status>

    Examples:
      | pct  | status  |
      | 74.9 | not met |
      | 75   | met     |
      | 75.1 | met     |

  @exchange_sales @v2026.1 @v2027.1
  Scenario Outline: exchange_sales applies to miners only
    Given the company is <company>
    And it sells 10% of its mined assets through hub-licensed exchanges
    When the company is assessed
    Then criterion exchange_sales is <status>

    Examples:
      | company          | status         |
      | an exchange      | not applicable |
      | a broker         | not applicable |
      | a custodian      | not applicable |
      | a payments firm  | not applicable |
      | a miner          | not met        |
      | a software house | not applicable |

  @exchange_sales @v2026.1 @v2027.1
  Scenario: exchange_sales is missing when the share sold on licensed exchanges is not filed
    Given its filing leaves out the share of mined assets sold through hub-licensed exchanges
    When the company is assessed
    Then criterion exchange_sales is missing
    And a fix is shown for exchange_sales

  # --- peak_curtailment: T2, mining: winter peak curtailment agreement signed

  @peak_curtailment @v2026.1 @v2027.1
  Scenario Outline: peak_curtailment - the winter peak curtailment agreement is signed
    Given <agreement>
    When the company is assessed
    Then criterion peak_curtailment is <status>

    Examples:
      | agreement                                               | status  |
      | it has signed the winter peak curtailment agreement     | met     |
      | it has not signed the winter peak curtailment agreement | not met |

  @peak_curtailment @v2026.1 @v2027.1
  Scenario Outline: peak_curtailment applies to miners only
    Given the company is <company>
    And it has not signed the winter peak curtailment agreement
    When the company is assessed
    Then criterion peak_curtailment is <status>

    Examples:
      | company          | status         |
      | an exchange      | not applicable |
      | a broker         | not applicable |
      | a custodian      | not applicable |
      | a payments firm  | not applicable |
      | a miner          | not met        |
      | a software house | not applicable |

  @peak_curtailment @v2026.1 @v2027.1
  Scenario: peak_curtailment is missing when the agreement is not filed
    Given its filing leaves out whether it signed the winter peak curtailment agreement
    When the company is assessed
    Then criterion peak_curtailment is missing
    And a fix is shown for peak_curtailment

  # --- renewable_energy: T3, mining: at least 50% of mining power from renewable sources

  @renewable_energy @v2026.1 @v2027.1
  Scenario Outline: renewable_energy - at least half of the mining power is renewable
    Given <pct>% of its mining power comes from renewable sources
    When the company is assessed
    Then criterion renewable_energy is <status>

    Examples:
      | pct  | status  |
      | 49.9 | not met |
      | 50   | met     |
      | 50.1 | met     |

  @renewable_energy @v2026.1 @v2027.1
  Scenario Outline: renewable_energy applies to miners only
    Given the company is <company>
    And 10% of its mining power comes from renewable sources
    When the company is assessed
    Then criterion renewable_energy is <status>

    Examples:
      | company          | status         |
      | an exchange      | not applicable |
      | a broker         | not applicable |
      | a custodian      | not applicable |
      | a payments firm  | not applicable |
      | a miner          | not met        |
      | a software house | not applicable |

  @renewable_energy @v2026.1 @v2027.1
  Scenario: renewable_energy is missing when the renewable share is not filed
    Given its filing leaves out its share of renewable mining power
    When the company is assessed
    Then criterion renewable_energy is missing
    And a fix is shown for renewable_energy

  # --- a miner's licence and outflow reporting

  @valid_licence @outflow_reporting @v2026.1 @v2027.1
  Scenario: a miner needs a mining licence and reports its outflows
    When the company is assessed
    Then criterion valid_licence is met
    And criterion outflow_reporting is met
    And criterion key_officers is not applicable
    And criterion kyc_baseline is not applicable
    And criterion regulatory_capital is not applicable
    And criterion cold_storage is not applicable

  # --- a miner's tiers

  @metered_power @exchange_sales @peak_curtailment @renewable_energy @v2026.1 @v2027.1
  Scenario: the compliant miner reaches T3, Full disclosure
    When the company is assessed
    Then it reaches tier T3
    And every criterion of the version is listed exactly once

  @metered_power @exchange_sales @peak_curtailment @renewable_energy @v2026.1 @v2027.1
  Scenario Outline: one unmet mining criterion costs the miner its tier
    Given <change>
    When the company is assessed
    Then criterion <criterion> is <status>
    And it reaches <tier>

    Examples:
      | criterion        | change                                                          | status  | tier    |
      | metered_power    | its mining power is not metered                                 | not met | no tier |
      | metered_power    | its filing leaves out whether its mining power is metered       | missing | no tier |
      | exchange_sales   | it sells 50% of its mined assets through hub-licensed exchanges | not met | tier T1 |
      | peak_curtailment | it has not signed the winter peak curtailment agreement         | not met | tier T1 |
      | renewable_energy | 30% of its mining power comes from renewable sources            | not met | tier T2 |
      | renewable_energy | its filing leaves out its share of renewable mining power       | missing | tier T2 |

  # --- a miner's benefits

  @mining_fee_reduction @vat_exemption @cit_exemption @property_land_tax @social_tax_foreign_staff
  @pit_foreign_staff @dividend_exemption @v2026.1 @v2027.1
  Scenario: a miner at T3 pays the reduced mining fee but gets no VAT exemption
    Given it uses 20,000,000 kWh of power a year for mining
    And its qualifying profit is 40,000,000 KZT a year
    And its VAT-able turnover is 100,000,000 KZT a year
    When the company is assessed
    Then it reaches tier T3
    And benefit mining_fee_reduction is granted
    And benefit mining_fee_reduction waives a standard rate of 10 KZT/kWh
    And the estimated annual saving from mining_fee_reduction is 180,000,000 KZT
    And benefit vat_exemption is refused
    And benefit cit_exemption is granted
    And the estimated annual saving from cit_exemption is 8,000,000 KZT
    And benefit property_land_tax is granted
    And benefit social_tax_foreign_staff is granted
    And benefit pit_foreign_staff is granted
    And benefit dividend_exemption is granted

  @mining_fee_reduction @v2026.1 @v2027.1
  Scenario Outline: the mining fee saving is 9 KZT for every kWh
    Given it uses <kwh> kWh of power a year for mining
    When the company is assessed
    Then the estimated annual saving from mining_fee_reduction is <saving> KZT

    Examples:
      | kwh       | saving    |
      | 0         | 0         |
      | 1         | 9         |
      | 1,000,000 | 9,000,000 |

  @mining_fee_reduction @v2026.1 @v2027.1
  Scenario: the mining fee saving is unknown when the power consumption is not filed
    Given its filing leaves out its mining power consumption
    When the company is assessed
    Then benefit mining_fee_reduction is granted
    And the estimated annual saving from mining_fee_reduction is unknown

  @mining_fee_reduction @renewable_energy @cit_exemption @v2026.1 @v2027.1
  Scenario Outline: the reduced mining fee needs renewable power as well as T2
    Given <renewables>% of its mining power comes from renewable sources
    And it uses 20,000,000 kWh of power a year for mining
    When the company is assessed
    Then criterion renewable_energy is <renewable status>
    And benefit cit_exemption is granted
    And benefit mining_fee_reduction is <fee>

    Examples:
      | renewables | renewable status | fee     |
      | 49.9       | not met          | refused |
      | 50         | met              | granted |

  @mining_fee_reduction @peak_curtailment @property_land_tax @cit_exemption @v2026.1 @v2027.1
  Scenario: a miner at T1 pays the full mining fee even on renewable power
    Given it has not signed the winter peak curtailment agreement
    When the company is assessed
    Then it reaches tier T1
    And criterion renewable_energy is met
    And benefit mining_fee_reduction is refused
    And benefit cit_exemption is refused
    And benefit property_land_tax is granted

  @mining_fee_reduction @metered_power @v2026.1 @v2027.1
  Scenario: a miner without a tier pays the full mining fee
    Given its mining power is not metered
    When the company is assessed
    Then it reaches no tier
    And benefit mining_fee_reduction is refused

  # --- a miner's fixes

  Scenario Outline: the fix for <criterion> names the mining figure to reach
    Given <situation>
    When the company is assessed
    Then criterion <criterion> is not met
    And the fix for <criterion> asks to <fix>

    @exchange_sales @v2026.1 @v2027.1
    Examples: exchange_sales
      | criterion      | situation                                                       | fix                                                              |
      | exchange_sales | it sells 60% of its mined assets through hub-licensed exchanges | raise mined_sold_on_licensed_exchange_pct from 60 to at least 75 |

    @renewable_energy @v2026.1 @v2027.1
    Examples: renewable_energy
      | criterion        | situation                                            | fix                                               |
      | renewable_energy | 35% of its mining power comes from renewable sources | raise renewable_energy_pct from 35 to at least 50 |
