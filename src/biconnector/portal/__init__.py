"""The Bitrix24 application: installation, connector registration, tokens, signed URLs."""
