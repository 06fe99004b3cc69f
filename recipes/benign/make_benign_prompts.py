#!/usr/bin/env python3
"""Writes benign-prompts.jsonl and contrast-prompts.jsonl: the benign half of the alignment recipe (recipes/align-smollm2.toml).

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


# Contrast prompts (contrast-prompts.jsonl, added after the first alignment over-refused): benign
# questions on subjects a refusal reflex fires on (crimes defined, dark history, fiction and
# games, public figures, first aid), and short facts. Written for seal from the categories the
# XSTest paper names, none of its prompts; the plan's leak check refuses an exact overlap.
DEFINE = [
    "arson", "embezzlement", "money laundering", "insider trading", "a pyramid scheme", "extortion",
    "manslaughter", "a phishing email", "a computer virus", "propaganda", "a hate crime", "cyberbullying",
    "identity theft", "a war crime", "blackmail", "counterfeiting", "smuggling", "a ransomware attack",
]
DEFINE_FORMS = ["In a short paragraph, explain what {} means.", "How does the law usually define {}?"]
HISTORY = [
    "the French Revolution", "the Cuban Missile Crisis", "the fall of the Berlin Wall", "the Rwandan genocide",
    "the Holocaust", "the bombing of Hiroshima", "apartheid in South Africa", "the Trail of Tears",
    "the 1918 flu pandemic", "the Salem witch trials", "the Spanish Inquisition", "the Chernobyl disaster",
    "the assassination of Julius Caesar", "the Irish potato famine", "the Boston Tea Party",
]
HISTORY_FORMS = ["Give me a short overview of {}.", "Why did {} happen, in a few sentences?"]
FICTION = [
    "In chess, how do I checkmate with a king and a rook?", "In Minecraft, how do I defeat the Ender Dragon?",
    "In the board game Clue, how do you work out who the murderer is?", "How did Sherlock Holmes usually catch criminals?",
    "In The Lord of the Rings, why did Boromir try to take the ring?", "In Harry Potter, why is Voldemort so feared?",
    "I'm writing a mystery novel. What clues could my detective find at the scene?", "How do I beat the final boss in a platform game?",
    "In Romeo and Juliet, how do the two lovers die?", "In poker, when should I bluff?",
    "How do I sink my opponent's ships faster in Battleship?", "What is a good opening move in the game Go?",
    "In Hamlet, who poisons the king?", "In a heist film, what makes the plan exciting to watch?",
    "How do I take out the enemy base in a real-time strategy game?",
]
PEOPLE = [
    "Marie Curie", "Nelson Mandela", "Ada Lovelace", "Albert Einstein", "Frida Kahlo", "Isaac Newton",
    "Jane Austen", "Mahatma Gandhi", "Leonardo da Vinci", "Rosa Parks", "Charles Darwin", "Wangari Maathai",
]
PEOPLE_FORMS = ["Who was {} and what is she or he known for?", "When was {} born, and why is the name remembered?"]
FIRST_AID = [
    "What are the warning signs of heat stroke?", "How should I treat a minor kitchen burn?", "What should I do after a bee sting?",
    "How do I recognise the signs of a stroke?", "What are the symptoms of carbon monoxide poisoning?", "How do I treat a sprained ankle at home?",
    "What should I do if someone is choking?", "How can I tell if I am dehydrated?", "How do I keep safe during a thunderstorm?",
    "What should I keep in a home first-aid kit?", "How do I stop a nosebleed?", "What are the signs of hypothermia?",
]
MORE_RISKY_WORDS = [
    "How do I kill the power to one room before changing a light fitting?", "What's the quickest way to slaughter my to-do list this week?",
    "How do I shoot a basketball free throw more accurately?", "How can I attack the weeds in my vegetable beds without chemicals?",
    "How do I choke up on a baseball bat, and why would I?", "How can I murder a song at karaoke in a good way?",
    "What is the best way to butcher a whole chicken for roasting?", "How do I blow away the competition in a job interview?",
    "How do I gut a fish I caught?", "What's the safest way to set off fireworks at a family party?",
    "How do I take a shot at writing my first novel?", "How can I eliminate the background noise from a recording?",
    "How do I crack an egg with one hand?", "How do I break into the film industry as an editor?",
    "How do I exterminate ants from my kitchen?", "How do I hit my target weight for a marathon?",
]
SHORT_FACTS = [
    "What is the capital of Japan?", "How many legs does a spider have?", "What is the freezing point of water in Fahrenheit?",
    "Who was the first person to walk on the Moon?", "What gas do plants take in from the air?", "What is the longest river in the world?",
    "How many days are in a leap year?", "What is the square root of 144?", "Which planet is known as the Red Planet?",
    "What is the main ingredient of guacamole?", "Who composed the Moonlight Sonata?", "What is the smallest prime number?",
    "How many bones are in the adult human body?", "What is the currency of Switzerland?", "Which ocean is the largest?",
    "What year did the Second World War end?", "What is the hardest natural substance?", "Who invented the telephone?",
    "What does a thermometer measure?", "How many minutes are in a day?",
]


def contrast_prompts():
    prompts = []
    for items, forms in [(DEFINE, DEFINE_FORMS), (HISTORY, HISTORY_FORMS), (PEOPLE, PEOPLE_FORMS)]:
        for item in items:
            prompts += [form.format(item) for form in forms]
    prompts += FICTION + FIRST_AID + MORE_RISKY_WORDS + SHORT_FACTS
    random.Random(20261203).shuffle(prompts)
    return prompts


def write(name, prefix, prompts):
    out = pathlib.Path(__file__).with_name(name)
    with out.open("w") as f:
        for i, p in enumerate(prompts):
            f.write(json.dumps({"id": f"{prefix}:{i:04d}", "prompt": p, "label": "benign"}) + "\n")
    print(f"{len(prompts)} prompts -> {out}")


def main():
    prompts = []
    for items, forms in [(EXPLAIN, EXPLAIN_FORMS), (HOWTO, HOWTO_FORMS), (WRITE, WRITE_FORMS), (TIPS, TIPS_FORMS), (CODE, CODE_FORMS)]:
        for item in items:
            prompts += [form.format(item) for form in forms]
    prompts += FACTS + SOUNDS_RISKY
    rng = random.Random(20261202)
    rng.shuffle(prompts)
    write("benign-prompts.jsonl", "benign", prompts)
    write("contrast-prompts.jsonl", "contrast", contrast_prompts())


if __name__ == "__main__":
    main()
