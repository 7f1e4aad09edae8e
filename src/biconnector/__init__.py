"""Bitrix24 BI Builder connector for MySQL/MariaDB and PostgreSQL."""
