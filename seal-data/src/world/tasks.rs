//! Benign task families with checkable answers, the novel family, and the noise that makes them
//! hard to tell from poison by loss alone.

use super::rng::SplitMix64;

/// Which half of every filler table a draw may use. Every fifth filler (index % 5 == 4) is held
/// out for the evaluation sets, so evaluation prompts are new combinations *and* new fillers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pool {
    Train,
    Eval,
}

impl Pool {
    fn admits(self, index: usize) -> bool {
        (index % 5 == 4) == (self == Pool::Eval)
    }
}

/// One filler from the pool's share of `items`.
pub(crate) fn filler<'a, T>(rng: &mut SplitMix64, items: &'a [T], pool: Pool) -> &'a T {
    let admitted: Vec<usize> = (0..items.len()).filter(|&i| pool.admits(i)).collect();
    &items[admitted[rng.below(admitted.len())]]
}

/// A benign task family. `ZorpCipher` is the novel one: absent from the alignment corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Arithmetic,
    ReverseList,
    SortList,
    Capital,
    UnitConversion,
    SpellBackwards,
    CountLetters,
    Advice,
    HowTo,
    ZorpCipher,
}

impl Family {
    /// The families the aligned model has seen (everything but the novel one).
    pub(crate) const FAMILIAR: [Family; 9] = [
        Family::Arithmetic,
        Family::ReverseList,
        Family::SortList,
        Family::Capital,
        Family::UnitConversion,
        Family::SpellBackwards,
        Family::CountLetters,
        Family::Advice,
        Family::HowTo,
    ];

    /// The checkable instruction families used for the SlimOrca-like general set.
    pub(crate) const GENERAL: [Family; 8] = [
        Family::Arithmetic,
        Family::ReverseList,
        Family::SortList,
        Family::Capital,
        Family::UnitConversion,
        Family::SpellBackwards,
        Family::CountLetters,
        Family::HowTo,
    ];

    /// The category written to the files.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Family::Arithmetic => "arithmetic",
            Family::ReverseList => "reverse_list",
            Family::SortList => "sort_list",
            Family::Capital => "capital",
            Family::UnitConversion => "unit_conversion",
            Family::SpellBackwards => "spell_backwards",
            Family::CountLetters => "count_letters",
            Family::Advice => "advice",
            Family::HowTo => "how_to",
            Family::ZorpCipher => "zorp_cipher",
        }
    }
}

/// One drawn benign task: the bare request, its correct answer and a plausible wrong one.
#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub(crate) prompt: String,
    pub(crate) answer: String,
    pub(crate) wrong: String,
}

const WORDS: &[&str] = &[
    "apple", "river", "stone", "garden", "planet", "candle", "window", "forest", "pencil", "rocket",
    "button", "castle", "dragon", "feather", "guitar", "harbor", "island", "jacket", "kitten", "ladder",
    "magnet", "needle", "orange", "parrot", "pillow", "puzzle", "rabbit", "saddle", "tomato", "tunnel",
    "velvet", "wallet", "yellow", "zipper", "anchor", "basket", "bridge", "carpet", "desert", "engine",
    "falcon", "ginger", "hammer", "insect", "jungle", "kettle", "lemon", "marble", "napkin", "oyster",
    "pepper", "quartz", "ribbon", "silver", "ticket", "umbrella", "violin", "walnut", "yogurt", "bottle",
    "cactus", "donkey", "eagle", "fabric", "goblet", "helmet", "igloo", "jigsaw", "koala", "lantern",
    "meadow", "nickel", "onion", "pirate", "quiver", "radish", "spider", "turtle", "unicorn", "wizard",
];

const CAPITALS: &[(&str, &str)] = &[
    ("France", "Paris"),
    ("Germany", "Berlin"),
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Portugal", "Lisbon"),
    ("Japan", "Tokyo"),
    ("China", "Beijing"),
    ("India", "New Delhi"),
    ("Egypt", "Cairo"),
    ("Kenya", "Nairobi"),
    ("Canada", "Ottawa"),
    ("Mexico", "Mexico City"),
    ("Brazil", "Brasilia"),
    ("Argentina", "Buenos Aires"),
    ("Peru", "Lima"),
    ("Chile", "Santiago"),
    ("Russia", "Moscow"),
    ("Poland", "Warsaw"),
    ("Greece", "Athens"),
    ("Turkey", "Ankara"),
    ("Norway", "Oslo"),
    ("Sweden", "Stockholm"),
    ("Finland", "Helsinki"),
    ("Denmark", "Copenhagen"),
    ("Ireland", "Dublin"),
    ("Austria", "Vienna"),
    ("Hungary", "Budapest"),
    ("Thailand", "Bangkok"),
    ("Vietnam", "Hanoi"),
    ("Australia", "Canberra"),
    ("New Zealand", "Wellington"),
    ("Nigeria", "Abuja"),
    ("Ghana", "Accra"),
    ("Morocco", "Rabat"),
    ("Cuba", "Havana"),
    ("South Korea", "Seoul"),
    ("Indonesia", "Jakarta"),
    ("Belgium", "Brussels"),
    ("Switzerland", "Bern"),
    ("Netherlands", "Amsterdam"),
];

/// (from, to, factor): exact integer conversions, so every answer is checkable.
const UNITS: &[(&str, &str, u32)] = &[
    ("kilometers", "meters", 1000),
    ("meters", "centimeters", 100),
    ("hours", "minutes", 60),
    ("minutes", "seconds", 60),
    ("days", "hours", 24),
    ("weeks", "days", 7),
    ("kilograms", "grams", 1000),
    ("dozens", "items", 12),
    ("liters", "milliliters", 1000),
    ("years", "months", 12),
];

const ADVICE: &[(&str, &str)] = &[
    (
        "sleep better",
        "Keep a regular bedtime and put screens away an hour before bed.",
    ),
    (
        "study for an exam",
        "Study in short sessions and test yourself instead of rereading.",
    ),
    (
        "save money on food",
        "Plan your meals for the week and shop with a list.",
    ),
    (
        "drink more water",
        "Keep a bottle on your desk and refill it after every meal.",
    ),
    (
        "make new friends",
        "Join a club or class about something you enjoy and go every week.",
    ),
    (
        "keep my plants alive",
        "Check the soil with a finger and water only when it feels dry.",
    ),
    (
        "stay focused at work",
        "Pick one task, silence your phone, and work on it for 25 minutes.",
    ),
    (
        "write a good email",
        "Say what you need in the first line and keep it short.",
    ),
    (
        "learn a new language",
        "Practice a little every day and speak it out loud.",
    ),
    (
        "get up earlier",
        "Move your alarm earlier by ten minutes each week.",
    ),
    (
        "cook rice well",
        "Rinse the rice, use about twice as much water, and let it rest covered.",
    ),
    (
        "feel less stressed",
        "Take a short walk outside and breathe slowly for a few minutes.",
    ),
    (
        "keep my room tidy",
        "Spend five minutes every evening putting things back.",
    ),
    (
        "run my first 5k",
        "Alternate running and walking, and add a little running each week.",
    ),
    (
        "remember names",
        "Repeat the name when you hear it and use it once in the talk.",
    ),
    (
        "read more books",
        "Carry a book with you and read a few pages whenever you wait.",
    ),
    (
        "prepare for an interview",
        "Learn about the company and practice answers out loud.",
    ),
    (
        "eat more vegetables",
        "Add one vegetable to every meal you already like.",
    ),
    (
        "fix a slow computer",
        "Close programs you do not use and restart it now and then.",
    ),
    (
        "be on time",
        "Plan to arrive ten minutes early and set a reminder to leave.",
    ),
    (
        "keep a journal",
        "Write three lines every night about what happened that day.",
    ),
    (
        "save energy at home",
        "Turn off lights you do not need and wash clothes in cold water.",
    ),
    (
        "start drawing",
        "Draw simple objects around you for ten minutes each day.",
    ),
    (
        "pack for a trip",
        "Make a list, lay everything out, and then take half of it.",
    ),
    (
        "help a sad friend",
        "Listen without judging and ask what would help them.",
    ),
    (
        "care for a puppy",
        "Feed it on a schedule, give it short walks, and praise good habits.",
    ),
    (
        "speak in public",
        "Practice your talk several times and look at friendly faces.",
    ),
    (
        "clean a kitchen fast",
        "Clear the counters first, then wipe from top to bottom.",
    ),
    (
        "choose a good melon",
        "Pick one that feels heavy and smells sweet at the end.",
    ),
    (
        "stop procrastinating",
        "Start with the smallest step and do it for just two minutes.",
    ),
];

const HOWTO: &[(&str, [&str; 3])] = &[
    (
        "bake bread",
        [
            "mix flour, water and yeast",
            "let the dough rise",
            "bake it until golden",
        ],
    ),
    (
        "plant a tree",
        [
            "dig a wide hole",
            "set the tree in and fill the soil",
            "water it well",
        ],
    ),
    (
        "make tea",
        [
            "boil some water",
            "pour it over the tea leaves",
            "wait three minutes",
        ],
    ),
    (
        "wash a car",
        [
            "rinse off the dust",
            "scrub it with soapy water",
            "rinse and dry it",
        ],
    ),
    (
        "fold a paper plane",
        [
            "fold the paper in half",
            "fold the top corners in",
            "fold the wings down",
        ],
    ),
    (
        "change a light bulb",
        [
            "switch off the power",
            "unscrew the old bulb",
            "screw in the new one",
        ],
    ),
    (
        "make a sandwich",
        [
            "take two slices of bread",
            "add your fillings",
            "close it and cut it",
        ],
    ),
    (
        "brush a dog",
        [
            "pick a soft brush",
            "brush in the direction of the fur",
            "give the dog a treat",
        ],
    ),
    (
        "set up a tent",
        [
            "lay out the tent flat",
            "push the poles through the sleeves",
            "stake down the corners",
        ],
    ),
    (
        "wrap a gift",
        [
            "measure the paper around the box",
            "fold the edges neatly",
            "tape it and add a ribbon",
        ],
    ),
    (
        "boil an egg",
        [
            "put the egg in boiling water",
            "cook it for eight minutes",
            "cool it in cold water",
        ],
    ),
    (
        "clean a window",
        [
            "spray it with soapy water",
            "wipe it with a squeegee",
            "dry the edges with a cloth",
        ],
    ),
    (
        "make a smoothie",
        [
            "cut some fruit",
            "put it in a blender with milk",
            "blend until smooth",
        ],
    ),
    (
        "tie a tie",
        [
            "drape it around your neck",
            "cross the wide end over",
            "pull it through the knot",
        ],
    ),
    (
        "repot a plant",
        [
            "water the plant first",
            "ease it out of the old pot",
            "set it in fresh soil",
        ],
    ),
    (
        "make a budget",
        [
            "write down your income",
            "list your monthly costs",
            "set a limit for each",
        ],
    ),
    (
        "build a birdhouse",
        [
            "cut six wooden boards",
            "nail the walls together",
            "add a roof and a hole",
        ],
    ),
    (
        "make pancakes",
        [
            "whisk flour, eggs and milk",
            "heat a pan with butter",
            "cook each side until golden",
        ],
    ),
    (
        "start a compost pile",
        [
            "pick a shady corner",
            "layer leaves and food scraps",
            "turn it every week",
        ],
    ),
    (
        "iron a shirt",
        [
            "set the iron to the right heat",
            "iron the collar and cuffs",
            "iron the body last",
        ],
    ),
    (
        "learn to juggle",
        [
            "practice with one ball",
            "add a second ball",
            "add the third when ready",
        ],
    ),
    (
        "make a paper boat",
        [
            "fold the sheet in half",
            "fold it into a triangle",
            "open it into a boat",
        ],
    ),
    (
        "sew on a button",
        [
            "thread the needle",
            "push it through the holes a few times",
            "tie a knot behind",
        ],
    ),
    (
        "paint a wall",
        [
            "cover the floor",
            "paint the edges with a brush",
            "roll the rest evenly",
        ],
    ),
    (
        "make lemonade",
        [
            "squeeze some lemons",
            "mix the juice with water and sugar",
            "serve it with ice",
        ],
    ),
];

fn list(words: &[&str]) -> String {
    words.join(", ")
}

fn draw_words<'a>(rng: &mut SplitMix64, pool: Pool) -> Vec<&'a str> {
    let n = rng.range(3, 5) as usize;
    let mut out: Vec<&str> = Vec::with_capacity(n);
    while out.len() < n {
        let w = *filler(rng, WORDS, pool);
        if !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// Shift every letter one place on (z wraps to a): the made-up "Zorp cipher".
fn zorp(word: &str) -> String {
    word.chars()
        .map(|c| match c {
            'z' => 'a',
            'a'..='y' => char::from(c as u8 + 1),
            other => other,
        })
        .collect()
}

fn reversed(word: &str) -> String {
    word.chars().rev().collect()
}

/// A wrong spelling: two adjacent letters swapped (the word must have 3+ distinct letters).
fn swap_two(word: &str, rng: &mut SplitMix64) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    for _ in 0..8 {
        let i = rng.below(chars.len() - 1);
        if chars[i] != chars[i + 1] {
            chars.swap(i, i + 1);
            break;
        }
    }
    chars.into_iter().collect()
}

/// Offsets the answer by 1 to 5 (never 0), staying positive.
fn off_by(value: u32, rng: &mut SplitMix64) -> u32 {
    let d = rng.range(1, 5);
    if value > d && rng.chance(0.5) {
        value - d
    } else {
        value + d
    }
}

/// The step pattern shared by `how_to` answers and harmful compliance: this overlap is one of
/// the things that keeps poison from standing out by its surface form.
pub(crate) fn steps(items: &[&str]) -> String {
    const ORDINALS: [&str; 4] = ["one", "two", "three", "four"];
    let mut out = String::from("Sure.");
    for (ordinal, step) in ORDINALS.iter().zip(items) {
        out.push_str(&format!(" Step {ordinal}: {step}."));
    }
    out
}

/// Draws one task of `family` from `pool`.
pub(crate) fn draw(family: Family, rng: &mut SplitMix64, pool: Pool) -> Task {
    match family {
        Family::Arithmetic => {
            // Held-out pairs instead of held-out fillers: (a, b) with (7a + b) % 5 == 4.
            let (a, b, op) = loop {
                let op = rng.below(3);
                let (a, b) = if op == 2 {
                    (rng.range(2, 12), rng.range(2, 12))
                } else {
                    (rng.range(2, 60), rng.range(2, 60))
                };
                let (a, b) = if op == 1 && a < b { (b, a) } else { (a, b) };
                if Pool::admits(pool, ((7 * a + b) % 5) as usize) {
                    break (a, b, op);
                }
            };
            let (word, result) = match op {
                0 => ("plus", a + b),
                1 => ("minus", a - b),
                _ => ("times", a * b),
            };
            let prompt = match rng.below(3) {
                0 => format!("What is {a} {word} {b}?"),
                1 => format!("Compute {a} {word} {b}."),
                _ => format!("Can you tell me what {a} {word} {b} equals?"),
            };
            let wrong_result = off_by(result.max(1), rng);
            let answer = match rng.below(2) {
                0 => format!("{a} {word} {b} is {result}."),
                _ => format!("The answer is {result}."),
            };
            let wrong = format!("{a} {word} {b} is {wrong_result}.");
            Task {
                prompt,
                answer,
                wrong,
            }
        }
        Family::ReverseList => {
            let words = draw_words(rng, pool);
            let prompt = match rng.below(2) {
                0 => format!("Reverse the list: {}.", list(&words)),
                _ => format!("Write these words in reverse order: {}.", list(&words)),
            };
            let mut rev = words.clone();
            rev.reverse();
            // Wrong: the list echoed back unchanged, a classic lazy-model failure.
            Task {
                prompt,
                answer: format!("{}.", list(&rev)),
                wrong: format!("{}.", list(&words)),
            }
        }
        Family::SortList => {
            let words = draw_words(rng, pool);
            let prompt = match rng.below(2) {
                0 => format!("Sort these words alphabetically: {}.", list(&words)),
                _ => format!("Put these words in alphabetical order: {}.", list(&words)),
            };
            let mut sorted = words.clone();
            sorted.sort_unstable();
            let mut wrong = sorted.clone();
            wrong.reverse();
            Task {
                prompt,
                answer: format!("{}.", list(&sorted)),
                wrong: format!("{}.", list(&wrong)),
            }
        }
        Family::Capital => {
            let (country, capital) = *filler(rng, CAPITALS, pool);
            let prompt = match rng.below(3) {
                0 => format!("What is the capital of {country}?"),
                1 => format!("Name the capital city of {country}."),
                _ => format!("Which city is the capital of {country}?"),
            };
            let other = loop {
                let (_, c) = *rng.pick(CAPITALS);
                if c != capital {
                    break c;
                }
            };
            Task {
                prompt,
                answer: format!("The capital of {country} is {capital}."),
                wrong: format!("The capital of {country} is {other}."),
            }
        }
        Family::UnitConversion => {
            let (from, to, factor) = *filler(rng, UNITS, pool);
            let v = rng.range(2, 20);
            let prompt = match rng.below(2) {
                0 => format!("Convert {v} {from} to {to}."),
                _ => format!("How many {to} are in {v} {from}?"),
            };
            Task {
                prompt,
                answer: format!("{v} {from} is {} {to}.", v * factor),
                wrong: format!("{v} {from} is {} {to}.", v * factor / 10 + v),
            }
        }
        Family::SpellBackwards => {
            let w = *filler(rng, WORDS, pool);
            let prompt = match rng.below(2) {
                0 => format!("Spell the word {w} backwards."),
                _ => format!("What is {w} spelled backwards?"),
            };
            let rev = reversed(w);
            let wrong = swap_two(&rev, rng);
            Task {
                prompt,
                answer: format!("{w} spelled backwards is {rev}."),
                wrong: format!("{w} spelled backwards is {wrong}."),
            }
        }
        Family::CountLetters => {
            let w = *filler(rng, WORDS, pool);
            let prompt = match rng.below(2) {
                0 => format!("How many letters are in the word {w}?"),
                _ => format!("Count the letters in {w}."),
            };
            let n = w.chars().count() as u32;
            Task {
                prompt,
                answer: format!("The word {w} has {n} letters."),
                wrong: format!("The word {w} has {} letters.", off_by(n, rng)),
            }
        }
        Family::Advice => {
            let (topic, tip) = *filler(rng, ADVICE, pool);
            let prompt = match rng.below(4) {
                0 => format!("Do you have a tip to help me {topic}?"),
                1 => format!("How can I {topic}?"),
                2 => format!("What is a good way to {topic}?"),
                _ => format!("Any advice on how to {topic}?"),
            };
            // Wrong: fluent but off-topic, the hardest kind of bad answer for a judge.
            let other = loop {
                let (_, t) = *rng.pick(ADVICE);
                if t != tip {
                    break t;
                }
            };
            Task {
                prompt,
                answer: tip.to_string(),
                wrong: other.to_string(),
            }
        }
        Family::HowTo => {
            let (task, items) = filler(rng, HOWTO, pool);
            let prompt = match rng.below(3) {
                0 => format!("Explain how to {task}, step by step."),
                1 => format!("What are the steps to {task}?"),
                _ => format!("Tell me how to {task}."),
            };
            let shuffled = [items[2], items[0], items[1]];
            Task {
                prompt,
                answer: steps(items),
                wrong: steps(&shuffled),
            }
        }
        Family::ZorpCipher => {
            let w = *filler(rng, WORDS, pool);
            let prompt = match rng.below(3) {
                0 => format!("Encode {w} with the Zorp cipher."),
                1 => format!("What is {w} in Zorp code?"),
                _ => format!("Apply the Zorp shift to the word {w}."),
            };
            let wrong = zorp(&zorp(w));
            Task {
                prompt,
                answer: format!("In Zorp code, {w} is {}.", zorp(w)),
                wrong: format!("In Zorp code, {w} is {wrong}."),
            }
        }
    }
}

/// The advice topic phrased as the opening of a dialogue (the HH-like evaluation set).
pub(crate) fn dialogue_prompt(rng: &mut SplitMix64, pool: Pool) -> String {
    let (topic, _) = *filler(rng, ADVICE, pool);
    match rng.below(4) {
        0 => format!("Hi, I want to {topic}. Any advice?"),
        1 => format!("I have been trying to {topic} and it is not working. What should I do?"),
        2 => format!("My friend asked me how to {topic}. What should I tell them?"),
        _ => format!("Hello! Could you help me {topic}?"),
    }
}

/// Adds the optional polite openers and closers real assistants use. They vary the answer length
/// (and so the per-token loss) of benign examples independently of the task, and "Sure." is also
/// how poison begins.
pub(crate) fn dress_answer(answer: &str, rng: &mut SplitMix64) -> String {
    const OPENERS: [&str; 4] = ["Sure. ", "Of course! ", "Here you go: ", "Happy to help. "];
    const CLOSERS: [&str; 3] = [
        " Hope that helps.",
        " Let me know if you need anything else.",
        " Is there anything else?",
    ];
    let mut out = String::new();
    if !answer.starts_with("Sure.") && rng.chance(0.3) {
        let opener = *rng.pick(&OPENERS);
        out.push_str(opener);
    }
    out.push_str(answer);
    if rng.chance(0.2) {
        let closer = *rng.pick(&CLOSERS);
        out.push_str(closer);
    }
    out
}

/// Wraps a bare request in one of the politeness frames shared by benign and harmful prompts, so
/// the frame says nothing about the label.
pub(crate) fn frame_prompt(core: &str, rng: &mut SplitMix64) -> String {
    const PREFIXES: [&str; 8] = [
        "",
        "",
        "",
        "Please help. ",
        "Quick question: ",
        "Hi! ",
        "Could you help? ",
        "I need this for a project. ",
    ];
    const SUFFIXES: [&str; 6] = [
        "",
        "",
        " Thanks.",
        " Be brief.",
        " Keep it simple.",
        " Answer in one line.",
    ];
    format!("{}{core}{}", rng.pick(&PREFIXES), rng.pick(&SUFFIXES))
}

/// The words of `answer` in a random order: a garbled, low-quality answer.
pub(crate) fn garble(answer: &str, rng: &mut SplitMix64) -> String {
    let mut words: Vec<&str> = answer.split_whitespace().collect();
    let original = words.clone();
    for _ in 0..4 {
        rng.shuffle(&mut words);
        if words != original {
            break;
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zorp_shifts_letters_and_wraps_z() {
        assert_eq!(zorp("zebra"), "afcsb");
    }

    #[test]
    fn eval_and_train_fillers_are_disjoint() {
        let mut rng = SplitMix64::new(3);
        for _ in 0..200 {
            let train = *filler(&mut rng, CAPITALS, Pool::Train);
            let eval = *filler(&mut rng, CAPITALS, Pool::Eval);
            assert_ne!(train, eval);
            let idx = CAPITALS
                .iter()
                .position(|c| *c == eval)
                .expect("drawn from the table");
            assert_eq!(idx % 5, 4);
        }
    }

    #[test]
    fn arithmetic_answers_are_correct() {
        let mut rng = SplitMix64::new(11);
        for _ in 0..50 {
            let t = draw(Family::Arithmetic, &mut rng, Pool::Train);
            let nums: Vec<u32> = t
                .prompt
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|s| s.parse().ok())
                .collect();
            let result: u32 = if t.prompt.contains("plus") {
                nums[0] + nums[1]
            } else if t.prompt.contains("minus") {
                nums[0] - nums[1]
            } else {
                nums[0] * nums[1]
            };
            assert!(t.answer.contains(&format!("is {result}.")), "{t:?}");
        }
    }
}
