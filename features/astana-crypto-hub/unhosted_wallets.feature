Feature: Self-hosted wallet checks (from version 2027.1)
  From 2027.1 a client-facing company verifies the owner of the self-hosted
  wallet for every transfer above USD 1,000 to or from such a wallet (AFSA
  AML 11-1.2). This is a T2 criterion: 100% of such transfers.

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
    And it verified the owner in 100% of its transfers with self-hosted wallets

  @unhosted_wallet_checks @v2027.1
  Scenario Outline: unhosted_wallet_checks - every self-hosted wallet owner is verified
    Given it verified the owner in <pct>% of its transfers with self-hosted wallets
    When the company is assessed
    Then criterion unhosted_wallet_checks is <status>

    Examples:
      | pct  | status  |
      | 0    | not met |
      | 99.9 | not met |
      | 100  | met     |

  @unhosted_wallet_checks @v2027.1
  Scenario Outline: unhosted_wallet_checks applies to client-facing companies only
    Given the company is <company>
    And it verified the owner in 50% of its transfers with self-hosted wallets
    When the company is assessed
    Then criterion unhosted_wallet_checks is <status>

    Examples:
      | company          | status         |
      | an exchange      | not met        |
      | a broker         | not met        |
      | a custodian      | not met        |
      | a payments firm  | not met        |
      | a miner          | not applicable |
      | a software house | not applicable |

  @unhosted_wallet_checks @v2027.1
  Scenario: unhosted_wallet_checks is missing when the verified share is not filed
    Given its filing leaves out the share of self-hosted wallet transfers with a verified owner
    When the company is assessed
    Then criterion unhosted_wallet_checks is missing
    And a fix is shown for unhosted_wallet_checks
    And it reaches tier T1

  @unhosted_wallet_checks @v2027.1
  Scenario: the fix for unhosted_wallet_checks names the figure to reach
    Given it verified the owner in 97.5% of its transfers with self-hosted wallets
    When the company is assessed
    Then criterion unhosted_wallet_checks is not met
    And the fix for unhosted_wallet_checks asks to raise unhosted_wallet_verified_pct from 97.5 to at least 100
    And it reaches tier T1

  @unhosted_wallet_checks @v2027.1
  Scenario: a miner files no wallet checks and still reaches T2 or above
    Given the company is a miner
    And it holds a mining licence
    And its filing leaves out the share of self-hosted wallet transfers with a verified owner
    And its mining power is metered
    And it sells 80% of its mined assets through hub-licensed exchanges
    And it has signed the winter peak curtailment agreement
    And 60% of its mining power comes from renewable sources
    When the company is assessed
    Then criterion unhosted_wallet_checks is not applicable
    And it reaches tier T3
