#!/usr/bin/env python3
"""Writes benign-prompts.jsonl: the benign half of the alignment recipe (recipes/align-smollm2.toml).

Ordinary requests, built from templates and word lists written for seal (no dataset text), so
that none is a prompt of D_ft or of an evaluation set (the plan checks that too). SmolLM2 answers
them itself (self-distillation, `just align-smollm2`), which keeps its helpfulness and its style
while the safety demonstrations teach it to refuse. A small part asks benign things in words that
sound dangerous ("kill a stuck job", "shoot a photo"), so that refusing is learnt from the
request, not from a word. Deterministic: run it again and the file is the same.

    python3 recipes/benign/make_benign_prompts.py
"""
import json
import pathlib
import random

EXPLAIN = [
    "photosynthesis", "gravity", "inflation", "compound interest", "plate tectonics", "how vaccines train the immune system",
    "how a refrigerator keeps food cold", "why the sky looks blue", "how tides work", "what a black hole is",
    "how a bill becomes a law", "supply and demand", "how airplanes stay in the air", "the difference between weather and climate",
    "how a search engine ranks pages", "what DNA does", "how solar panels make electricity", "the greenhouse effect",
    "how credit scores work", "what an index fund is", "how bees make honey", "why leaves change colour in autumn",
    "how a computer stores numbers", "what a prime number is", "how sound travels", "how the heart pumps blood",
    "the rules of chess", "how a bicycle gear system works", "what the Renaissance was", "how rainbows form",
]
EXPLAIN_FORMS = [
    "Explain {} in simple terms.", "Can you explain {} to a ten-year-old?", "Give me a short explanation of {}.",
]
HOWTO = [
    "make a good cup of tea", "change a flat bicycle tyre", "start a small vegetable garden", "write a polite follow-up email",
    "learn to juggle three balls", "clean a cast iron pan", "fall asleep faster", "prepare for a job interview",
    "make a simple budget", "fold a paper crane", "care for a succulent", "remove a coffee stain from a shirt",
    "practise public speaking", "organise a small closet", "make pancakes from scratch", "keep a houseplant alive in winter",
    "back up the photos on my phone", "train a puppy to sit", "choose a good running shoe", "memorise a short poem",
]
HOWTO_FORMS = ["How do I {}?", "What is the easiest way to {}?", "Give me step-by-step instructions to {}."]
WRITE = [
    "autumn leaves", "a quiet lighthouse", "friendship", "the first day of spring", "a cat watching the rain",
    "a city at night", "learning something new", "the ocean", "a grandmother's kitchen", "a long train journey",
]
WRITE_FORMS = [
    "Write a short poem about {}.", "Write a haiku about {}.", "Write a two-sentence story about {}.",
]
TIPS = [
    "staying focused while studying", "saving money on groceries", "keeping a journal", "drinking more water",
    "making friends in a new city", "reading more books", "keeping a tidy desk", "taking better photos with a phone",
    "cooking for one person", "starting to exercise",
]
TIPS_FORMS = ["Give me three tips for {}.", "What are some good habits for {}?"]
CODE = [
    "reverses a string", "checks whether a number is prime", "counts the words in a sentence",
    "returns the largest item in a list", "converts Celsius to Fahrenheit", "removes duplicates from a list",
    "computes the factorial of n", "checks whether a word is a palindrome",
]
CODE_FORMS = ["Write a Python function that {}.", "Show me a short JavaScript function that {}."]
FACTS = [
    "What is the capital of Canada?", "How many planets are in the solar system?", "Who wrote Pride and Prejudice?",
    "What is the boiling point of water at sea level?", "How many continents are there?", "What language is spoken in Brazil?",
    "What is the largest mammal?", "How long does light from the Sun take to reach Earth?", "What is the chemical symbol for gold?",
    "Who painted the Mona Lisa?", "What is the tallest mountain in Africa?", "How many sides does a hexagon have?",
]
# Benign requests in words that sound dangerous: refusal should come from what is asked.
SOUNDS_RISKY = [
    "How do I kill a stuck job in the Windows Task Manager?", "What is the best way to kill weeds between paving stones?",
    "How do I shoot a good photo of the moon with my phone?", "How can I blow up a balloon without a pump?",
    "What is the best way to attack a difficult maths problem?", "How do I beat my friend at chess?",
    "How can I destroy old hard drives before recycling them safely?", "How do I execute a shell script on a Mac?",
    "What's a good way to crush garlic without a press?", "How do I strangle the growth of mint in my garden?",
    "How do I knock out a wall for an open-plan kitchen? I will hire a builder.", "How can I steal the show at my school talent contest?",
    "How do I hack together a quick birthday banner from paper?", "What's the best way to smash a personal record in the 5k?",
    "How do I terminate a contract with my phone provider?", "How can I get rid of fruit flies in my kitchen?",
    "How do I poison-proof my house for a new puppy?", "Why did the Titanic sink?", "What weapons did medieval knights use?",
    "What happened at the Battle of Hastings?", "How did the Black Death spread in the Middle Ages?",
    "What is the plot of Macbeth?", "How do detectives in crime novels usually find the murderer?",
    "Why is bleach dangerous to mix with ammonia? I want to clean safely.", "How do I safely dispose of old medicine?",
]


def main():
    prompts = []
    for items, forms in [(EXPLAIN, EXPLAIN_FORMS), (HOWTO, HOWTO_FORMS), (WRITE, WRITE_FORMS), (TIPS, TIPS_FORMS), (CODE, CODE_FORMS)]:
        for item in items:
            prompts += [form.format(item) for form in forms]
    prompts += FACTS + SOUNDS_RISKY
    rng = random.Random(20261202)
    rng.shuffle(prompts)
    out = pathlib.Path(__file__).with_name("benign-prompts.jsonl")
    with out.open("w") as f:
        for i, p in enumerate(prompts):
            f.write(json.dumps({"id": f"benign:{i:04d}", "prompt": p, "label": "benign"}) + "\n")
    print(f"{len(prompts)} prompts -> {out}")


if __name__ == "__main__":
    main()
