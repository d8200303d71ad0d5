Feature: Benefits and their estimated savings
  At T1 a company is exempt from property and land tax on its in-zone objects
  (standard rate 1.5%, saving 0.015 x property value) and from social tax for
  foreign employees (6%, saving 0.06 x foreign payroll). At T2 it is also
  exempt from corporate income tax on qualifying income (20%, saving 0.20 x
  qualifying profit), from VAT on qualifying services unless it is a miner
  (16%, saving 0.16 x VAT-able turnover) and from personal income tax for
  foreign employees (10%, saving 0.10 x foreign payroll). At T3 its
  shareholders are exempt from dividend withholding tax (15%; the saving is
  the shareholders', so no estimate). A miner at T2 or above whose renewable
  energy criterion is met pays a mining fee of 1 KZT instead of 10 KZT per
  kWh (saving 9 x kWh; see the mining feature). A saving whose figure the
  company did not file is unknown, and never affects eligibility. A benefit is
  certified for 12 months from the decision.

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
  Rule: under 2026.1, benefits follow the tier reached

    @property_land_tax @social_tax_foreign_staff @cit_exemption @vat_exemption
    @pit_foreign_staff @dividend_exemption @mining_fee_reduction
    Scenario: 2026.1 - an exchange at T3 is granted every benefit but the mining fee reduction
      Given its qualifying profit is 60,000,000 KZT a year
      And its VAT-able turnover is 200,000,000 KZT a year
      And its payroll of foreign staff is 30,000,000 KZT a year
      And its in-zone property is worth 500,000,000 KZT
      When the company is assessed
      Then it reaches tier T3
      And benefit property_land_tax is granted
      And the estimated annual saving from property_land_tax is 7,500,000 KZT
      And benefit social_tax_foreign_staff is granted
      And the estimated annual saving from social_tax_foreign_staff is 1,800,000 KZT
      And benefit cit_exemption is granted
      And the estimated annual saving from cit_exemption is 12,000,000 KZT
      And benefit vat_exemption is granted
      And the estimated annual saving from vat_exemption is 32,000,000 KZT
      And benefit pit_foreign_staff is granted
      And the estimated annual saving from pit_foreign_staff is 3,000,000 KZT
      And benefit dividend_exemption is granted
      And the estimated annual saving from dividend_exemption is unknown
      And benefit mining_fee_reduction is refused

    @property_land_tax @social_tax_foreign_staff @cit_exemption @vat_exemption
    @pit_foreign_staff
    Scenario Outline: 2026.1 - the estimated saving is the standard rate times the company's figure
      Given <figure>
      When the company is assessed
      Then benefit <benefit> is granted
      And the estimated annual saving from <benefit> is <saving> KZT

      Examples:
        | benefit                  | figure                                                | saving      |
        | property_land_tax        | its in-zone property is worth 1,000,000,000 KZT       | 15,000,000  |
        | property_land_tax        | its in-zone property is worth 0 KZT                   | 0           |
        | social_tax_foreign_staff | its payroll of foreign staff is 50,000,000 KZT a year | 3,000,000   |
        | pit_foreign_staff        | its payroll of foreign staff is 50,000,000 KZT a year | 5,000,000   |
        | cit_exemption            | its qualifying profit is 1,000,000,000 KZT a year     | 200,000,000 |
        | cit_exemption            | its qualifying profit is 123,456 KZT a year           | 24,691.2    |
        | vat_exemption            | its VAT-able turnover is 1,000,000,000 KZT a year     | 160,000,000 |

    @property_land_tax @social_tax_foreign_staff @cit_exemption @vat_exemption
    @pit_foreign_staff @dividend_exemption
    Scenario Outline: 2026.1 - the standard rate each benefit waives
      When the company is assessed
      Then benefit <benefit> is granted
      And benefit <benefit> waives a standard rate of <rate>

      Examples:
        | benefit                  | rate |
        | property_land_tax        | 1.5% |
        | social_tax_foreign_staff | 6%   |
        | cit_exemption            | 20%  |
        | vat_exemption            | 16%  |
        | pit_foreign_staff        | 10%  |
        | dividend_exemption       | 15%  |

    @property_land_tax @social_tax_foreign_staff @cit_exemption @vat_exemption
    @pit_foreign_staff @dividend_exemption
    Scenario: 2026.1 - savings are unknown when the figures are not filed, and the benefits still granted
      When the company is assessed
      Then it reaches tier T3
      And the estimated annual saving from property_land_tax is unknown
      And the estimated annual saving from social_tax_foreign_staff is unknown
      And the estimated annual saving from cit_exemption is unknown
      And the estimated annual saving from vat_exemption is unknown
      And the estimated annual saving from pit_foreign_staff is unknown
      And the estimated annual saving from dividend_exemption is unknown

    @cold_storage @property_land_tax @social_tax_foreign_staff @cit_exemption
    @vat_exemption @pit_foreign_staff @dividend_exemption
    Scenario: 2026.1 - an exchange at T2 loses only the dividend exemption
      Given it keeps 80% of client assets in cold storage
      When the company is assessed
      Then it reaches tier T2
      And benefit property_land_tax is granted
      And benefit social_tax_foreign_staff is granted
      And benefit cit_exemption is granted
      And benefit vat_exemption is granted
      And benefit pit_foreign_staff is granted
      And benefit dividend_exemption is refused

    @separate_accounting @property_land_tax @social_tax_foreign_staff @cit_exemption
    @vat_exemption @pit_foreign_staff @dividend_exemption
    Scenario: 2026.1 - an exchange at T1 keeps only the property, land and social tax exemptions
      Given it does not keep separate accounts for qualifying income
      And its qualifying profit is 60,000,000 KZT a year
      And its in-zone property is worth 500,000,000 KZT
      When the company is assessed
      Then it reaches tier T1
      And benefit property_land_tax is granted
      And the estimated annual saving from property_land_tax is 7,500,000 KZT
      And benefit social_tax_foreign_staff is granted
      And benefit cit_exemption is refused
      And benefit vat_exemption is refused
      And benefit pit_foreign_staff is refused
      And benefit dividend_exemption is refused

    @no_sanctions @property_land_tax @social_tax_foreign_staff @cit_exemption
    @vat_exemption @pit_foreign_staff @dividend_exemption @mining_fee_reduction
    Scenario: 2026.1 - a company without a tier is granted nothing, whatever its figures
      Given it or an owner matches a sanctions list
      And its qualifying profit is 60,000,000 KZT a year
      And its in-zone property is worth 500,000,000 KZT
      When the company is assessed
      Then it reaches no tier
      And benefit property_land_tax is refused
      And benefit social_tax_foreign_staff is refused
      And benefit cit_exemption is refused
      And benefit vat_exemption is refused
      And benefit pit_foreign_staff is refused
      And benefit dividend_exemption is refused
      And benefit mining_fee_reduction is refused

    @property_land_tax @social_tax_foreign_staff @cit_exemption @vat_exemption
    @pit_foreign_staff
    Scenario: 2026.1 - each saving is rounded half up to the tiyn, and the total is their sum
      # 0.015 x 1,235,501 = 18,532.515 exactly: half a tiyn, rounded up (a binary float
      # holds 18,532.51499... and would round down). 0.06 and 0.10 x 1,000,005 are
      # 60,000.30 and 100,000.50; 0.20 x 1,000,000.025 = 200,000.005 -> 200,000.01.
      Given its in-zone property is worth 1,235,501 KZT
      And its payroll of foreign staff is 1,000,005 KZT a year
      And its qualifying profit is 1,000,000.025 KZT a year
      And its VAT-able turnover is 100 KZT a year
      When the company is assessed
      Then it reaches tier T3
      And the estimated annual saving from property_land_tax is 18,532.52 KZT
      And the estimated annual saving from social_tax_foreign_staff is 60,000.30 KZT
      And the estimated annual saving from pit_foreign_staff is 100,000.50 KZT
      And the estimated annual saving from cit_exemption is 200,000.01 KZT
      And the estimated annual saving from vat_exemption is 16 KZT
      And the estimated total annual saving is 378,549.33 KZT

  @v2027.1
  Rule: under 2027.1, benefits follow the tier reached

    Background: under 2027.1 a client-facing company also files its self-hosted wallet checks
      Given it verified the owner in 100% of its transfers with self-hosted wallets

    @property_land_tax @social_tax_foreign_staff @cit_exemption @vat_exemption
    @pit_foreign_staff @dividend_exemption @mining_fee_reduction
    Scenario: 2027.1 - an exchange at T3 is granted every benefit but the mining fee reduction
      Given its qualifying profit is 60,000,000 KZT a year
      And its VAT-able turnover is 200,000,000 KZT a year
      And its payroll of foreign staff is 30,000,000 KZT a year
      And its in-zone property is worth 500,000,000 KZT
      When the company is assessed
      Then it reaches tier T3
      And benefit property_land_tax is granted
      And the estimated annual saving from property_land_tax is 7,500,000 KZT
      And benefit social_tax_foreign_staff is granted
      And the estimated annual saving from social_tax_foreign_staff is 1,800,000 KZT
      And benefit cit_exemption is granted
      And the estimated annual saving from cit_exemption is 12,000,000 KZT
      And benefit vat_exemption is granted
      And the estimated annual saving from vat_exemption is 32,000,000 KZT
      And benefit pit_foreign_staff is granted
      And the estimated annual saving from pit_foreign_staff is 3,000,000 KZT
      And benefit dividend_exemption is granted
      And the estimated annual saving from dividend_exemption is unknown
      And benefit mining_fee_reduction is refused

    @property_land_tax @social_tax_foreign_staff @cit_exemption @vat_exemption
    @pit_foreign_staff
    Scenario Outline: 2027.1 - the estimated saving is the standard rate times the company's figure
      Given <figure>
      When the company is assessed
      Then benefit <benefit> is granted
      And the estimated annual saving from <benefit> is <saving> KZT

      Examples:
        | benefit                  | figure                                                | saving      |
        | property_land_tax        | its in-zone property is worth 1,000,000,000 KZT       | 15,000,000  |
        | property_land_tax        | its in-zone property is worth 0 KZT                   | 0           |
        | social_tax_foreign_staff | its payroll of foreign staff is 50,000,000 KZT a year | 3,000,000   |
        | pit_foreign_staff        | its payroll of foreign staff is 50,000,000 KZT a year | 5,000,000   |
        | cit_exemption            | its qualifying profit is 1,000,000,000 KZT a year     | 200,000,000 |
        | cit_exemption            | its qualifying profit is 123,456 KZT a year           | 24,691.2    |
        | vat_exemption            | its VAT-able turnover is 1,000,000,000 KZT a year     | 160,000,000 |

    @property_land_tax @social_tax_foreign_staff @cit_exemption @vat_exemption
    @pit_foreign_staff @dividend_exemption
    Scenario Outline: 2027.1 - the standard rate each benefit waives
      When the company is assessed
      Then benefit <benefit> is granted
      And benefit <benefit> waives a standard rate of <rate>

      Examples:
        | benefit                  | rate |
        | property_land_tax        | 1.5% |
        | social_tax_foreign_staff | 6%   |
        | cit_exemption            | 20%  |
        | vat_exemption            | 16%  |
        | pit_foreign_staff        | 10%  |
        | dividend_exemption       | 15%  |

    @property_land_tax @social_tax_foreign_staff @cit_exemption @vat_exemption
    @pit_foreign_staff @dividend_exemption
    Scenario: 2027.1 - savings are unknown when the figures are not filed, and the benefits still granted
      When the company is assessed
      Then it reaches tier T3
      And the estimated annual saving from property_land_tax is unknown
      And the estimated annual saving from social_tax_foreign_staff is unknown
      And the estimated annual saving from cit_exemption is unknown
      And the estimated annual saving from vat_exemption is unknown
      And the estimated annual saving from pit_foreign_staff is unknown
      And the estimated annual saving from dividend_exemption is unknown

    @cold_storage @property_land_tax @social_tax_foreign_staff @cit_exemption
    @vat_exemption @pit_foreign_staff @dividend_exemption
    Scenario: 2027.1 - an exchange at T2 loses only the dividend exemption
      Given it keeps 80% of client assets in cold storage
      When the company is assessed
      Then it reaches tier T2
      And benefit property_land_tax is granted
      And benefit social_tax_foreign_staff is granted
      And benefit cit_exemption is granted
      And benefit vat_exemption is granted
      And benefit pit_foreign_staff is granted
      And benefit dividend_exemption is refused

    @separate_accounting @property_land_tax @social_tax_foreign_staff @cit_exemption
    @vat_exemption @pit_foreign_staff @dividend_exemption
    Scenario: 2027.1 - an exchange at T1 keeps only the property, land and social tax exemptions
      Given it does not keep separate accounts for qualifying income
      And its qualifying profit is 60,000,000 KZT a year
      And its in-zone property is worth 500,000,000 KZT
      When the company is assessed
      Then it reaches tier T1
      And benefit property_land_tax is granted
      And the estimated annual saving from property_land_tax is 7,500,000 KZT
      And benefit social_tax_foreign_staff is granted
      And benefit cit_exemption is refused
      And benefit vat_exemption is refused
      And benefit pit_foreign_staff is refused
      And benefit dividend_exemption is refused

    @no_sanctions @property_land_tax @social_tax_foreign_staff @cit_exemption
    @vat_exemption @pit_foreign_staff @dividend_exemption @mining_fee_reduction
    Scenario: 2027.1 - a company without a tier is granted nothing, whatever its figures
      Given it or an owner matches a sanctions list
      And its qualifying profit is 60,000,000 KZT a year
      And its in-zone property is worth 500,000,000 KZT
      When the company is assessed
      Then it reaches no tier
      And benefit property_land_tax is refused
      And benefit social_tax_foreign_staff is refused
      And benefit cit_exemption is refused
      And benefit vat_exemption is refused
      And benefit pit_foreign_staff is refused
      And benefit dividend_exemption is refused
      And benefit mining_fee_reduction is refused
