"""The prompt sampler: deterministic, distinct, diverse, with real names from many Faker locales."""

from faker import Faker

from data_tools.prompts import LOCALES, diversity_report, main, sample_portraits, sample_prompts


def test_same_arguments_give_the_same_prompts_and_a_larger_n_extends_them():
    assert sample_prompts(50, seed=3) == sample_prompts(50, seed=3)
    assert sample_prompts(80, seed=3)[:50] == sample_prompts(50, seed=3)
    assert sample_prompts(50, seed=3) != sample_prompts(50, seed=4)


def test_prompts_are_distinct_and_follow_the_template():
    portraits = sample_portraits(500, seed=0)
    prompts = [portrait.prompt for portrait in portraits]
    assert len(set(prompts)) == 500
    for portrait in portraits:
        assert portrait.prompt.startswith(f"{portrait.framing} of {portrait.first_name} {portrait.last_name}, ")
        assert f"{portrait.age}-year-old {portrait.gender}" in portrait.prompt
        assert portrait.prompt.endswith("photorealistic")


def test_a_thousand_prompts_cover_every_attribute_and_many_names():
    report = diversity_report(sample_portraits(1000, seed=0))
    assert all(used == total for used, total in (value.split("/") for value in report["coverage"].values()))
    assert report["distinct_full_names"] > 950
    assert report["age_range"][0] >= 18 and report["age_range"][1] <= 90
    assert len(report["ages_by_decade"]) >= 7


def test_every_locale_has_its_own_names():
    # A locale that fell back to en_US's provider would add no diversity.
    for locale in LOCALES:
        providers = [type(provider).__module__ for provider in Faker(locale).providers]
        assert f"faker.providers.person.{locale}" in providers, locale


def test_report_cli_prints_diversity(capsys):
    report = main(["--num-prompts", "40", "--seed", "1", "--show", "2"])
    output = capsys.readouterr().out
    assert report["prompts"] == 40 and "coverage:" in output and "distinct_full_names: " in output
