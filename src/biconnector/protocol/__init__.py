"""The Bitrix24 connector contract: requests, naming and response shapes."""
