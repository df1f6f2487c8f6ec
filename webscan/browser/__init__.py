"""The browser layer: launch Chromium, instrument pages, frames and workers, record what runs.

Three rooms (see the team's STYLE.md): hook.js only emits records; records.py/observe.py turn
them into typed observations; evidence.py maps observations onto the one data model. Import
the submodules directly (`from webscan.browser.observe import observe`): importing this package
must not pull in Playwright for users of the static scanner.
"""
