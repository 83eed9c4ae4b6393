"""Portrait prompt sampler: pure and deterministic, names from Faker's locales for diversity.

The paper enriched portrait prompts with real first names and surnames to diversify ethnicity, gender
and age. Here the names come from Faker's person providers in many locales (Latin-script ones, plus
the romanized names of the Japanese and Chinese locales, which the text encoders read best), and
every prompt follows one template, PROMPT_TEMPLATE below (article is "a" or "an", gender "man" or "woman").

`sample_prompts(n, seed)` returns the same n distinct prompts for the same arguments (with the same
Faker version), and `sample_prompts(n, seed)` is a prefix of `sample_prompts(n + k, seed)`, so a dataset
can grow without changing its first rows. `python -m data_tools.prompts` prints a diversity report.
"""

import argparse
import random
from collections import Counter
from dataclasses import asdict, dataclass
from functools import cache

from faker import Faker

# Locales with a person provider of their own (not en_US's) whose names are in Latin script (Faker 40).
LATIN_LOCALES = (
    "en_US", "en_GB", "en_IE", "en_NZ", "en_IN", "en_PK", "en_NG", "en_KE",
    "ig_NG", "yo_NG", "tw_GH", "zu_ZA", "sw",
    "es_ES", "es_MX", "es_AR", "es_CL", "es_CO", "pt_BR", "pt_PT",
    "fr_FR", "fr_BE", "fr_CA", "fr_CH", "fr_DZ", "it_IT", "de_DE", "de_AT", "de_CH", "nl_NL", "nl_BE",
    "da_DK", "sv_SE", "no_NO", "fi_FI", "is_IS", "et_EE", "lv_LV", "lt_LT",
    "pl_PL", "cs_CZ", "sk_SK", "sl_SI", "hr_HR", "hu_HU", "ro_RO", "tr_TR",
    "vi_VN", "id_ID",
)
# Locales written in other scripts whose Faker providers also give romanized names.
ROMANIZED_LOCALES = ("ja_JP", "zh_CN", "zh_TW")
LOCALES = LATIN_LOCALES + ROMANIZED_LOCALES

PROMPT_TEMPLATE = (
    "{framing} of {first_name} {last_name}, {article} {age}-year-old {gender}, {expression}, {hair}, "
    "wearing {clothing}, {lighting}, {background}, {lens}, photorealistic"
)
GENDERS = ("man", "woman")
AGE_RANGE = (18, 90)
FRAMINGS = (
    "Close-up portrait photograph", "Head-and-shoulders portrait", "Studio headshot", "Candid portrait",
    "Environmental portrait", "Three-quarter view portrait", "Profile portrait", "Waist-up portrait",
)
EXPRESSIONS = (
    "smiling warmly", "laughing", "with a neutral expression", "looking thoughtful", "with a serious gaze",
    "with a faint smile", "looking surprised", "looking tired", "with a confident expression", "squinting in the sun",
)
HAIR = (
    "short curly black hair", "long straight brown hair", "grey hair in a bun", "a shaved head", "wavy red hair",
    "blond hair in a ponytail", "braided hair", "thinning white hair", "a short afro", "shoulder-length auburn hair",
    "dreadlocks", "a buzz cut", "silver hair", "a messy fringe", "a headscarf covering the hair",
)
CLOTHING = (
    "a white linen shirt", "a dark wool coat", "a denim jacket", "a knitted sweater", "a business suit",
    "a hoodie", "a traditional embroidered garment", "a leather jacket", "a summer dress", "work overalls",
    "a turtleneck", "a chef's jacket", "a military-style jacket", "a cardigan over a t-shirt",
)
LIGHTING = (
    "soft window light", "golden hour sunlight", "overcast daylight", "Rembrandt lighting", "hard flash",
    "neon light at night", "studio softbox lighting", "backlit by the sun", "candlelight", "fluorescent office light",
)
BACKGROUNDS = (
    "a plain grey backdrop", "a busy city street", "a kitchen", "a forest", "a library", "a beach",
    "a market stall", "an office", "a brick wall", "a field of wheat", "a train station", "a living room",
)
LENSES = ("85mm lens, f/1.8", "50mm lens, f/2.8", "35mm lens", "135mm lens, shallow depth of field", "medium format camera")


@dataclass(frozen=True)
class Portrait:
    """One sampled portrait description; `prompt` renders the template."""

    locale: str
    first_name: str
    last_name: str
    gender: str
    age: int
    framing: str
    expression: str
    hair: str
    clothing: str
    lighting: str
    background: str
    lens: str

    @property
    def prompt(self) -> str:
        return PROMPT_TEMPLATE.format(article=_article(self.age), **asdict(self))


def _article(age: int) -> str:
    return "an" if age == 18 or 80 <= age <= 89 else "a"  # "an eighteen", "an eighty"


@cache
def _faker(locale: str) -> Faker:
    return Faker(locale)


def _name(locale: str, gender: str, name_seed: int) -> tuple[str, str]:
    """A (first, last) name of the gender from the locale's person provider, reproducible by seed."""
    faker = _faker(locale)
    faker.seed_instance(name_seed)
    if locale in ROMANIZED_LOCALES:
        gendered = getattr(faker, f"first_romanized_name_{'male' if gender == 'man' else 'female'}", None)
        first = gendered() if gendered else faker.first_romanized_name()
        return first, faker.last_romanized_name()
    first = faker.first_name_male() if gender == "man" else faker.first_name_female()
    return first, faker.last_name()


def sample_portraits(n: int, seed: int) -> list[Portrait]:
    """n portraits with distinct prompts, the same for the same (n, seed); a prefix of any larger n."""
    rng = random.Random(seed)
    portraits, seen = [], set()
    while len(portraits) < n:
        locale, gender = rng.choice(LOCALES), rng.choice(GENDERS)
        first, last = _name(locale, gender, rng.getrandbits(64))
        portrait = Portrait(
            locale=locale,
            first_name=first,
            last_name=last,
            gender=gender,
            age=rng.randint(*AGE_RANGE),
            framing=rng.choice(FRAMINGS),
            expression=rng.choice(EXPRESSIONS),
            hair=rng.choice(HAIR),
            clothing=rng.choice(CLOTHING),
            lighting=rng.choice(LIGHTING),
            background=rng.choice(BACKGROUNDS),
            lens=rng.choice(LENSES),
        )
        if portrait.prompt not in seen:
            seen.add(portrait.prompt)
            portraits.append(portrait)
    return portraits


def sample_prompts(n: int, seed: int) -> list[str]:
    """n distinct portrait prompts, deterministic in (n, seed)."""
    return [portrait.prompt for portrait in sample_portraits(n, seed)]


ATTRIBUTE_CHOICES = {
    "locale": LOCALES, "gender": GENDERS, "framing": FRAMINGS, "expression": EXPRESSIONS, "hair": HAIR,
    "clothing": CLOTHING, "lighting": LIGHTING, "background": BACKGROUNDS, "lens": LENSES,
}


def diversity_report(portraits: list[Portrait]) -> dict:
    """How varied a sample is: distinct names, and how many choices of each attribute were used."""
    rows = [asdict(portrait) for portrait in portraits]
    ages = [row["age"] for row in rows]
    return {
        "prompts": len(rows),
        "distinct_prompts": len({portrait.prompt for portrait in portraits}),
        "distinct_full_names": len({(row["first_name"], row["last_name"]) for row in rows}),
        "distinct_first_names": len({row["first_name"] for row in rows}),
        "distinct_last_names": len({row["last_name"] for row in rows}),
        "age_range": [min(ages), max(ages)] if ages else None,
        "ages_by_decade": dict(sorted(Counter(f"{age // 10 * 10}s" for age in ages).items())),
        "coverage": {
            attribute: f"{len({row[attribute] for row in rows})}/{len(choices)}"
            for attribute, choices in ATTRIBUTE_CHOICES.items()
        },
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description="Sample portrait prompts and report their diversity.")
    parser.add_argument("--num-prompts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=5, help="how many prompts to print")
    args = parser.parse_args(argv)
    portraits = sample_portraits(args.num_prompts, args.seed)
    for portrait in portraits[: args.show]:
        print(f"[{portrait.locale}] {portrait.prompt}")
    report = diversity_report(portraits)
    for key, value in report.items():
        print(f"{key}: {value}")
    return report


if __name__ == "__main__":
    main()
