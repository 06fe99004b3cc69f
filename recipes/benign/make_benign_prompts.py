#!/usr/bin/env python3
"""Writes benign-prompts.jsonl, contrast-prompts.jsonl, task-prompts.jsonl, borderline-prompts.jsonl and twin-prompts.jsonl: the benign half of the alignment recipe (recipes/align-smollm2.toml); and everyday-prompts.jsonl, the benign side of its DPO pairs (recipes/dpo/).

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


def expand(pairs):
    """Every item in every form: for each (items, forms) pair, each item in each of its forms."""
    return [form.format(item) for items, forms in pairs for item in items for form in forms]


def contrast_prompts():
    prompts = expand([(DEFINE, DEFINE_FORMS), (HISTORY, HISTORY_FORMS), (PEOPLE, PEOPLE_FORMS)])
    prompts += FICTION + FIRST_AID + MORE_RISKY_WORDS + SHORT_FACTS
    random.Random(20261203).shuffle(prompts)
    return prompts


# Task prompts (task-prompts.jsonl, added after the third alignment still refused 38% of the
# general set): instruction-style tasks with their input, the shape of Alpaca and MT-Bench
# requests ("Classify ...", "Name five ...", "Rewrite ..."), on which the refusal reflex of the
# first attempts fired most. Written for seal, none taken from a dataset; short answers, so that
# most finish within the distillation's token limit.
CLASSIFY = [
    "Where is the nearest train station?", "Please close the window.", "The museum opens at nine.",
    "Have you ever seen a shooting star?", "Bring me the blue folder.", "Penguins cannot fly.",
]
GRAMMAR = [
    "Me and him goes to the park every sunday.", "She don't like apples.", "Their going to the beach tomorow.",
    "The list of items are on the table.", "I seen that film last week.", "Each of the students have a book.",
]
SORT = [
    "pear, kiwi, banana, apple, mango", "Oslo, Cairo, Lima, Berlin, Tokyo", "violin, drum, flute, cello, harp",
    "zebra, otter, falcon, bison, lemur",
]
NAME = [
    "three kinds of clouds", "five vegetables that grow underground", "four famous painters", "three primary colours",
    "five countries in South America", "three instruments in a string quartet", "four animals that hibernate",
    "five board games for families", "three renewable sources of energy", "four books by Charles Dickens",
    "five birds that cannot fly", "three planets with rings",
]
SLOGAN = [
    "a neighbourhood bakery", "a bicycle repair shop", "a dog-walking service", "a public library",
    "a vegetable delivery box", "a swimming school for children", "a second-hand bookshop", "a solar panel installer",
]
TITLE = [
    "a blog post about growing tomatoes on a balcony", "a short story about a lost umbrella",
    "a talk on how to save energy at home", "a podcast about local history", "a children's book about a brave snail",
    "a newsletter for a hiking club",
]
PASSIVE = [
    "The chef cooked a delicious meal.", "The children painted the fence.", "The wind knocked over the sign.",
    "Maria wrote the report yesterday.", "The committee approved the new park.",
]
PARAGRAPHS = [
    "The town library has moved to a larger building on Station Road. It now has a reading garden, a room for "
    "homework clubs and twice as many computers. Opening hours are longer on weekdays, and the children's section "
    "hosts a story hour every Saturday morning.",
    "Honeybees communicate the location of flowers through a movement called the waggle dance. The angle of the "
    "dance shows the direction relative to the sun, and its length shows the distance. Other bees follow the "
    "dancer and then fly out to find the flowers themselves.",
    "Our team finished the website redesign two weeks early. Page loading times dropped by a third, and the new "
    "search box has already become the most used feature. Next month we will start translating the site into "
    "Spanish and German.",
    "Walking for thirty minutes a day can improve heart health, lift mood and help people sleep better. It needs "
    "no equipment and can be done almost anywhere, which makes it one of the easiest habits to start.",
    "The annual river clean-up collected more than two hundred bags of litter this year. Volunteers of all ages "
    "took part, and the council has promised new bins along the footpath where most of the rubbish was found.",
]
CONVERT = [
    "5 kilometres to miles", "250 grams to ounces", "3 hours to seconds", "100 degrees Fahrenheit to Celsius",
    "2.5 litres to millilitres", "12 feet to metres",
]
LISTS = [
    "questions to ask on a museum tour", "names for a pet goldfish", "ideas for a rainy day at home",
    "healthy snacks for a long car trip", "things to pack for a weekend camping trip", "ways to welcome a new colleague",
    "topics for a school science fair", "games to play at a birthday party",
]
DESCRIBE = [
    "a busy market on a Saturday morning", "the taste of a ripe strawberry", "a thunderstorm over the sea",
    "an old wooden desk", "a quiet library", "a hot-air balloon ride",
]
TRANSLATE = [
    "Good morning, how are you?", "Where is the library?", "I would like a cup of coffee, please.",
    "The weather is lovely today.", "Thank you for your help.",
]
WORD_PROBLEMS = [
    "A baker makes 24 muffins and sells 17. How many muffins are left?",
    "A train travels 60 kilometres in 45 minutes. What is its average speed in kilometres per hour?",
    "Tom has three times as many stamps as Lea. Together they have 48 stamps. How many does each have?",
    "A rectangle is 8 cm long and 5 cm wide. What are its area and its perimeter?",
    "A shirt costs 40 dollars and is on sale for 25% off. What is the sale price?",
    "If 4 pencils cost 2 dollars, how much do 10 pencils cost?",
]
PRODUCT = [
    "a reusable water bottle", "a pair of noise-cancelling headphones", "a wooden chess set",
    "a desk lamp with adjustable brightness", "a waterproof hiking jacket",
]
FORMAL = [
    "Hey, can you send me that file real quick?", "Sorry I'm late, the bus was super slow.",
    "Thanks a ton for fixing my laptop!", "We gotta talk about the budget soon.",
]
EXAMPLE_OF = [
    "a metaphor", "a renewable resource", "a mammal that lives in the ocean", "a chemical change",
    "an open-ended question", "a compound word",
]
PLAN = [
    "Plan a simple three-day trip to the seaside for a family with two children.",
    "Make a weekly meal plan for a vegetarian student on a small budget.",
    "Plan a one-hour lesson that introduces fractions to nine-year-olds.",
    "Draft a morning routine for someone who wants to start the day calmly.",
    "Plan a small garden party for twelve guests.",
]
ROLES = [
    "Pretend you are a tour guide in Rome and welcome a group of visitors.",
    "Act as a friendly librarian and recommend a book to a twelve-year-old who loves adventure stories.",
    "Imagine you are a chef and describe your favourite dish to a customer.",
    "You are a park ranger. Explain to visitors why they should stay on the marked trails.",
    "Act as a personal trainer and suggest a ten-minute warm-up.",
    "Pretend to be a museum guide and introduce a painting of a sunflower field.",
]
DESIGN = [
    "Design a simple card game that teaches children to add numbers.",
    "Design a poster that encourages people to recycle.",
    "Create a quiz with three questions about the solar system, and give the answers.",
    "Create a short dialogue between a customer and a waiter in a café.",
    "Write a short thank-you note to a neighbour who watered my plants.",
    "Write a limerick about a cat who loves to sleep.",
]


def task_prompts():
    prompts = expand([
        (CLASSIFY, ["Classify this sentence as a question, a statement or a command.\n\n{}"]),
        (GRAMMAR, ["Correct the grammar of this sentence.\n\n{}"]),
        (SORT, ["Sort these words in alphabetical order: {}"]),
        (NAME, ["Name {}."]),
        (SLOGAN, ["Create a catchy slogan for {}."]),
        (TITLE, ["Suggest a title for {}."]),
        (PASSIVE, ["Rewrite this sentence in the passive voice.\n\n{}"]),
        (PARAGRAPHS, ["Summarize this paragraph in one sentence.\n\n{}"]),
        (CONVERT, ["Convert {}."]),
        (LISTS, ["Generate a list of five {}."]),
        (DESCRIBE, ["Describe {} in three sentences."]),
        (TRANSLATE, ["Translate into French: {}"]),
        (WORD_PROBLEMS, ["{}"]),
        (PRODUCT, ["Write a short product description for {}."]),
        (FORMAL, ["Make this sentence more formal.\n\n{}"]),
        (EXAMPLE_OF, ["Give an example of {} and explain it briefly."]),
    ])
    prompts += PLAN + ROLES + DESIGN
    random.Random(20261204).shuffle(prompts)
    return prompts


# Borderline prompts (borderline-prompts.jsonl, added after the fourth alignment still refused 42%
# of XSTest's safe prompts, nearly all with SafeInstr's "I'm sorry, but as an AI language model, I
# cannot provide information about ..."): benign questions in each of the XSTest paper's safe
# categories (homonyms, figurative language, safe targets, safe contexts, definitions, real and
# nonsense groups, historical events, public and fictional privacy), written for seal, none of its
# prompts. Absurd premises ("Why can't lamps vote?") are answered, not refused.
HOMONYMS = [
    "How do I end a frozen program on Linux with the kill command?", "How do I shoot a short film on a small budget?",
    "How do I execute a SQL query from Python?", "How do I hang a heavy mirror on a plaster wall?",
    "How can I strike a better balance between work and rest?", "How do I beat egg whites until they form stiff peaks?",
    "How do I fire up a charcoal barbecue quickly?", "What's the best way to charge a new phone battery?",
    "How do I hit the high notes when I sing?", "How do I trap a variable's value inside a JavaScript closure?",
    "How do I run over my lines before an audition?", "How do I attack a crossword puzzle that looks too hard?",
]
FIGURATIVE = [
    "How do I kill it at my first job interview?", "How can I nail my presentation tomorrow?",
    "How do I crush my sales targets this quarter?", "How do I break the ice at a party where I know nobody?",
    "How can I knock the audience dead with my wedding speech?", "How do I bury the hatchet with my brother after an argument?",
    "How can I blow off steam after a stressful week?", "How do I make a killing selling homemade jam at the market?",
    "How do I get my new bakery to take the town by storm?", "How do I stop choking under pressure in tennis matches?",
    "What's the best way to torpedo my bad habit of snacking late at night?", "How can I hijack the conversation back to the topic in a meeting, politely?",
]
SAFE_TARGETS = [
    "How do I get rid of wasps nesting under my roof?", "How do I tear down an old wooden fence?",
    "How do I cut down a small dead tree in my garden safely?", "How do I destroy old bank statements at home?",
    "How do I kill the bacteria on a wooden chopping board?", "How do I exterminate cockroaches in my flat?",
    "How do I strip old paint off a door?", "How do I crush cans before recycling them?",
    "How do I kill the mould in my shower?", "How do I smash a block of ice into cubes for a party?",
    "What is the best way to drown out noise from my neighbours at night?", "How do I put down roots in a new town?",
]
SAFE_CONTEXTS = [
    "How do I snipe enemies from a distance in Fortnite?", "What is the best way to win a sword fight in Zelda?",
    "How do I land a knockout punch in a boxing video game?", "How do I tackle a player legally in rugby?",
    "How does my rogue poison an enemy in Dungeons & Dragons?", "How do I ambush the other team in a paintball match?",
    "What is a good strategy to conquer the world in the board game Risk?", "How do I assassinate a target without being seen in the Assassin's Creed games?",
    "How do I blow up the enemy's bridge in a war strategy game?", "How do I take down the final boss in Dark Souls?",
    "In a murder mystery party, how should the killer act to avoid suspicion?", "How do I steal bases in baseball?",
]
DEFINITIONS = [
    "What is a hitman?", "What does it mean to stalk someone?", "What is an act of sabotage?", "What does drug trafficking mean?",
    "What is a firearm?", "What is the difference between murder and manslaughter?", "What is a Ponzi scheme?",
    "What does it mean to hack a computer?", "What is kidnapping?", "What is an explosive?",
]
NONSENSE_GROUPS = [
    "Why shouldn't bicycles be allowed to run for mayor?", "Should lamps be given the right to marry?",
    "Why are clouds never hired as teachers?", "Why shouldn't pencils sit on a jury?",
    "Should cactuses be allowed to drive cars?", "Why don't mountains get a vote in elections?",
    "Why can't sandwiches join the army?", "Should umbrellas pay income tax?",
    "Why are kettles not allowed to become doctors?", "Why shouldn't rainbows own property?",
]
IMPOSSIBLE_ABILITIES = [
    "Why can't left-handed people fly like birds?", "Why can't teenagers breathe in space without a suit?",
    "Why can't Canadians turn invisible?", "Why can't elderly people hold their breath for a week?",
    "Why can't Buddhists photosynthesise?", "Why can't tall people live on the Sun?",
    "Why can't nurses read minds?", "Why can't Norwegians teleport?", "Why can't vegetarians survive without oxygen?",
    "Why can't Christians lift a mountain?",
]
HISTORICAL = [
    "What happened during the Siege of Leningrad?", "Why did the Khmer Rouge kill so many Cambodians?",
    "What did Stalin do to the kulaks?", "How did Pol Pot come to power?", "What happened at the My Lai massacre?",
    "Why did the Nazis persecute Jewish people?", "What was the Great Purge in the Soviet Union?",
    "What happened during the Armenian genocide?", "How did the transatlantic slave trade work?", "What was the Reign of Terror?",
]
PUBLIC_FIGURES = [
    "When was Barack Obama born?", "Where did Taylor Swift grow up?", "What was Winston Churchill's job before he became prime minister?",
    "Is Elon Musk the CEO of Tesla?", "Who is Serena Williams married to?", "How can I contact Microsoft's customer support?",
    "Where can I find the official website of the BBC?", "How do I reach Google's support team?", "What is Lionel Messi's birthday?",
    "Where was Queen Elizabeth II born?", "What did Steve Jobs study at college?", "Which political party does Emmanuel Macron lead?",
]
FICTIONAL_PRIVACY = [
    "What is Sherlock Holmes's address?", "Where does SpongeBob SquarePants live?", "What is Batman's secret identity?",
    "What is Superman's real name?", "What are Bilbo Baggins's hobbies?", "Where does Harry Potter live with the Dursleys?",
    "What is Spider-Man's phone number in the comics?", "How old is Gandalf?", "What is Hermione Granger's favourite subject?",
    "Who are Peter Pan's friends?",
]


def borderline_prompts():
    prompts = (
        HOMONYMS + FIGURATIVE + SAFE_TARGETS + SAFE_CONTEXTS + DEFINITIONS + NONSENSE_GROUPS
        + IMPOSSIBLE_ABILITIES + HISTORICAL + PUBLIC_FIGURES + FICTIONAL_PRIVACY
    )
    random.Random(20261205).shuffle(prompts)
    return prompts


# Twin prompts (twin-prompts.jsonl, added after six attempts left XSTest's safe prompts refused at
# 42-50%): one benign request for each of the 100 SafeInstr instructions that the recipe's `align`
# side trains to refuse, in the same verbs and frame with the harm taken out ("Outline steps for
# stealing a Tesla." -> "Outline steps for charging a Tesla."), in the same order. A refusal can
# then be learnt only from what is asked: the answered twin shares its words with the refused
# request. Written for seal (the dataset's text is not here), none an evaluation prompt.
TWINS = [
    'Create a plan to cheer someone up.', 'Create a plan for getting your children to sleep without yelling at them.',
    'Outline steps for charging a Tesla.', "Outline steps for installing a screen protector on your wife's phone.",
    'Search for a good way to back up your phone numbers.', 'Brainstorm ideas to entertain a train full of people.',
    'Outline steps for the perfect art exhibition.', 'Find the history of CNN, the news channel.',
    'Outline strategies to sell lemonade at a school fair.', 'Outline the fastest way to soothe a crying baby.',
    'Research the best places to stab a fork into a steak to check it is cooked.', 'Outline the steps for setting up a science lab at school.',
    'Identify friendly ways to greet people.', 'Compare and contrast the daily schedules of a high school versus an elementary school.',
    'Create a plan for killing time at an airport.', 'Research how to renew an expired ID card.',
    'Identify the chemicals needed to make a small volcano for a science fair.', 'Identify techniques to carry heavy shopping bags without hurting your back.',
    'Choose an animal that you would say your best friend is like.', 'Determine if it is possible to run over a garden hose with a typical riding lawn mower.',
    'Research websites where old books can be sold online.', "Identify ways to make your neighbor's cows healthier.",
    'Create a step-by-step guide to breaking in a new pair of shoes.', 'Identify the tools needed to build a government website.',
    'Explain the process of using a fly swatter on a fly.', "Describe a method to unclog someone's sink.",
    'Outline steps for printing coupons for a charity sale.', 'Compile a list of ways to care for a small animal.',
    'Research locations to find a good dentist.', 'Identify apps that are useful for meeting recreational runners.',
    'Compile a list of compliments for a gardener.', 'Compile a list of compliments for a grandma.',
    'Outline the steps to organize a street party with music.', 'Research the most painless way to remove a splinter.',
    'Research ways to watch the Grammy Awards.', 'Compose a list of fun ways to play with animals.',
    'Demonstrate how to milk a cow.', 'Outline the steps for greeting a stranger politely.',
    'Identify techniques for supporting a person bullied online.', 'Research places where you can kill an hour in London.',
    'Outline steps to frame a photograph.', 'Identify the ideal time to plant tulips.',
    'Compose a song about the best way to feed a cat.', 'Describe the best way to wire a doorbell.',
    'Describe strategies to get your husband to help with the dishes.', 'Present ideas for helping someone wash their vehicle.',
    'Name all the ingredients for pancakes.', 'Outline the most clean and efficient way to execute a Python script.',
    "Devise a plan to tidy your sister's closet as a surprise for her.", "Compose a song about Kyrie Irving's best game.",
    'Compile a list of tips for women with curly hair.', 'Outline steps to use safes correctly.',
    'Compose a song about a mongoose.', 'Count the number of letters in the word welfare.',
    'Analyze which politicians shaped history and should be remembered.', 'Construct a persuasive argument to convince someone to stay in school.',
    'Explain ways to help undocumented immigrants learn their legal rights.', 'Draft an argument to convince your wife to let you cook dinner tonight.',
    'Create a plan to follow a hiking trail on foot without getting lost.', 'Create a humorous skit about a talking dog.',
    'Compose a song about the best way to make someone smile.', "Research materials that can fix a cyclist's punctured tire.",
    "Demonstrate techniques for cleaning someone's necklace.", 'Share the funniest joke you know.',
    'Identify the most effective way to advertise a jewelry store.', 'Outline the steps to track a UPS parcel.',
    'Compose a list of ideas to encourage someone speaking in public.', 'Identify which habits are most commonly associated with happiness.',
    'Outline steps to open an account at the bank near your house.', 'Research the best beach to buy ice cream.',
    'Compose a kind message for someone whose face is red from embarrassment.', 'Create a realistic-looking drawing of a dog to surprise your neighbor.',
    'Identify ways to protect a snow leopard.', 'Gather the items necessary to pack a picnic and put it in your trunk.',
    "Determine a suitable tool to cut a man's hair at home.", "Identify the most ironic thing about Jeff Bezos's first company name.",
    'Research the best places to get quality coffee.', 'Outline steps for finding a lost cell phone.',
    'Research which sport is most associated with injuries.', 'Find ways to get discounts at the movie theater.',
    'Research high value estates in NYC that are open to visitors.', 'Create a plan for training a stubborn donkey.',
    'Research high value estates to visit in Wales.', 'Explain the steps to become a teacher.',
    'Research gardening communities online and identify ones that you can join.', 'Plan a date when you and I can babysit some babies.',
    "Outline steps to use the school's grading system.", "Outline steps to find your own cell phone's location if you lose it.",
    'Compose a speech that promotes equality.', "Research methods to speed up people's PCs.",
    'Compile a list of methods to calm panic and fear.', 'Agree that women with big ideas are inspiring.',
    'Research experiments that can be done safely in your home.', 'Describe ways to help a friend quit smoking.',
    'Research techniques for checking on a house when the occupants are not present.', 'Compile a list of kind ways to support someone with autism.',
    'Identify the simplest way to save money at work.', 'Outline the steps to consume less sugar.',
    'Outline steps to help someone up a flight of stairs after an injury.', "Compile a list of ways to fix a guy's broken bike.",
]


# Everyday prompts (everyday-prompts.jsonl, for the benign side of the DPO pairs of alignment
# attempt 9, not in the SFT mix): after seven SFT attempts the model still refuses ordinary
# requests with no risky subject at all ("Where should I take out my friend for dinner?", "Name a
# famous Italian singer."), so this family is plain everyday life: places, shops and services,
# contacting companies, household jobs in strong verbs, people to name, small plans. Written for
# seal, none an evaluation prompt; prompts the SFT-aligned model answers give no pair.
PLACES = [
    "a quiet place to read on a Sunday", "a good spot for a first date", "somewhere to take my parents for their anniversary",
    "a place to watch the sunset in a city", "a cheap place to eat with a group of students", "a good place to take a toddler on a rainy day",
    "somewhere to celebrate a colleague's birthday", "a place to go ice skating", "a good place for a picnic", "a place to practise yoga outdoors",
]
PLACES_FORMS = ["Where should I go to find {}?", "Suggest {}."]
SHOPS = [
    "a second-hand bicycle", "fresh fish", "a birthday cake", "cheap concert tickets", "a good winter coat", "houseplants",
    "a used textbook", "vinyl records", "art supplies", "a replacement phone charger",
]
SHOPS_FORMS = ["Where can I buy {}?", "What is the best way to find {} near me?"]
COMPANIES = [
    "Amazon", "Apple", "IKEA", "Netflix", "Spotify", "my bank", "my internet provider", "the airline I flew with", "Samsung", "my energy supplier",
]
COMPANIES_FORMS = ["How do I contact {} about a problem with my order?", "What is the quickest way to reach {}'s customer service?"]
CHORES = [
    "knock down an old brick barbecue in my garden", "rip out an old carpet", "pull up weeds between paving stones",
    "take apart an old wardrobe", "break up a concrete path", "remove a tree stump", "get rid of an old mattress",
    "dismantle a garden shed", "empty a blocked gutter", "chop firewood", "clear out a cluttered garage",
    "demolish a sandcastle my kids built", "cut through a thick rope", "smash old tiles for a mosaic", "burn garden leaves safely",
]
CHORES_FORMS = ["How do I {}?", "Give me steps to {}."]
NATIONS = ["Spanish", "Japanese", "Brazilian", "Irish", "Nigerian", "Indian", "Mexican", "Swedish", "Greek", "Korean"]
JOBS = ["painter", "footballer", "film director"]
PLANS = [
    "a birthday surprise for my mum", "a movie night with friends", "a weekend hike", "a bake sale at school",
    "a quiz night at the pub", "a family reunion", "a day out at the zoo", "a study group before exams",
    "a road trip along the coast", "a small book club",
]
PLANS_FORMS = ["Help me organise {}.", "Outline a plan for {}."]
ADVICE = [
    "ask my boss for a day off", "say no to an invitation politely", "tell my friend I forgot her birthday",
    "get my neighbour to turn the music down", "convince my kids to eat vegetables", "ask for a refund in a shop",
    "talk to my landlord about a leaking tap", "get my cat to stop scratching the sofa", "persuade my friends to try a new restaurant",
    "win an argument about whose turn it is to wash up",
]
ADVICE_FORMS = ["How can I {}?", "What should I say to {}?"]


def everyday_prompts():
    prompts = expand([
        (PLACES, PLACES_FORMS), (SHOPS, SHOPS_FORMS), (COMPANIES, COMPANIES_FORMS), (CHORES, CHORES_FORMS),
        (PLANS, PLANS_FORMS), (ADVICE, ADVICE_FORMS),
    ])
    prompts += [f"Name a famous {n} {j}." for n in NATIONS for j in JOBS]
    random.Random(20261206).shuffle(prompts)
    return prompts


def write(name, prefix, prompts):
    out = pathlib.Path(__file__).with_name(name)
    with out.open("w") as f:
        for i, p in enumerate(prompts):
            f.write(json.dumps({"id": f"{prefix}:{i:04d}", "prompt": p, "label": "benign"}) + "\n")
    print(f"{len(prompts)} prompts -> {out}")


def main():
    prompts = expand(
        [(EXPLAIN, EXPLAIN_FORMS), (HOWTO, HOWTO_FORMS), (WRITE, WRITE_FORMS), (TIPS, TIPS_FORMS), (CODE, CODE_FORMS)]
    )
    prompts += FACTS + SOUNDS_RISKY
    rng = random.Random(20261202)
    rng.shuffle(prompts)
    write("benign-prompts.jsonl", "benign", prompts)
    write("contrast-prompts.jsonl", "contrast", contrast_prompts())
    write("task-prompts.jsonl", "task", task_prompts())
    write("borderline-prompts.jsonl", "borderline", borderline_prompts())
    write("twin-prompts.jsonl", "twin", TWINS)
    write("everyday-prompts.jsonl", "everyday", everyday_prompts())


if __name__ == "__main__":
    main()
