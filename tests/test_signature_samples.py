"""Every rule matches its must-match samples and none of its must-not-match samples."""

from __future__ import annotations

from webscan.rules.samples import run_samples

from conftest import ROOT


def test_every_rule_behaves_on_its_samples(sigs):
    failures = run_samples(sigs, base=ROOT)
    assert failures == [], "\n".join(failures)


def test_wasm_and_constant_samples_exist(sigs):
    """A sample path that does not exist would silently skip the rule's check."""
    for rule in [*sigs.wasm, *sigs.constants]:
        for sample in [*rule.samples.match, *rule.samples.no_match]:
            assert (ROOT / sample).is_file(), f"{rule.id}: sample {sample} is missing"


def test_a_broken_sample_is_reported(sigs):
    rule = sigs.domains[0]
    broken = rule.model_copy(update={"samples": rule.samples.model_copy(
        update={"no_match": [rule.samples.match[0]]})})
    from dataclasses import replace

    failures = run_samples(replace(sigs, domains=[broken], js=[], wasm=[], constants=[],
                                   protocol=[]), base=ROOT)
    assert any(rule.id in f and "must-not-match" in f for f in failures)
