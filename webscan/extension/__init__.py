"""The browser extension's build: signatures compiled for its scorer, DNR rules, packaging.

The extension's source is the `extension/` folder (JavaScript, HTML, icons); this package turns
it, the signature set and the crawler's hook into a loadable unpacked folder or a zip.
"""
