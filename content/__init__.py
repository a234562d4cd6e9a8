"""The content shipped with tcns, as package data: installed as the package ``tcns_content``
(``pyproject.toml`` maps it onto this folder) and read by ``bot.content`` through
importlib.resources. Only YAML lives here; see the README for the layout."""
