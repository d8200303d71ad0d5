"""The policy studio: authors draft, test, compare, analyse and publish policy versions."""
