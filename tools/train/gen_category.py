"""Generated category training text for the embedded default classifier:
the prompts users send that MMLU-Pro lacks (short chat questions, code and
"fix this function" requests, arithmetic and completions like "2+2 is ",
"X is said to be Y because ", creative writing, small talk), from templates
and word lists written here. Deterministic for a seed.

    gen_category.py [N_PER_CATEGORY] [SEED]   prints JSON lines {"text", "category", "source"}
"""
import json
import random
import sys

# topics per category: short noun phrases a user would ask about
TOPICS = {
    "biology": ["photosynthesis", "mitosis", "meiosis", "DNA replication", "the cell membrane", "natural selection",
                "evolution", "the Krebs cycle", "ribosomes", "mitochondria", "gene expression", "CRISPR",
                "protein synthesis", "enzymes", "the nervous system of insects", "plant hormones", "ecosystems",
                "food webs", "bacteria", "viruses", "fungi", "chloroplasts", "homeostasis", "genetic drift",
                "Mendelian inheritance", "transcription factors", "stem cells", "biodiversity", "the immune "
                "response in mammals", "cell division", "speciation", "symbiosis", "osmosis in plant cells",
                "DNA polymerase", "RNA splicing", "taxonomy", "the lac operon", "coral reefs", "pollination",
                "animal behavior", "microbiology", "dominant and recessive alleles", "the human genome"],
    "business": ["marketing strategy", "a business plan", "supply chain management", "corporate governance",
                 "brand positioning", "customer retention", "a SWOT analysis", "venture capital", "startup "
                 "funding", "accounting principles", "a balance sheet", "cash flow statements", "human "
                 "resources", "leadership styles", "project management", "market segmentation", "e-commerce",
                 "pricing strategy", "business ethics", "mergers and acquisitions", "a cover letter for a sales "
                 "job", "negotiation with suppliers", "franchising", "return on investment", "depreciation",
                 "inventory management", "stakeholder management", "a marketing email", "small business taxes",
                 "KPIs", "a go-to-market plan", "sales funnels", "the four Ps of marketing", "management "
                 "accounting", "break-even analysis", "outsourcing", "a mission statement", "crowdfunding"],
    "chemistry": ["covalent bonds", "ionic bonds", "the periodic table", "chemical equilibrium", "acids and "
                  "bases", "pH", "oxidation and reduction", "organic chemistry", "stoichiometry", "molar mass",
                  "electronegativity", "catalysts", "reaction rates", "titration", "isomers", "polymers",
                  "hydrogen bonding", "electrochemistry", "the ideal gas law", "enthalpy", "Le Chatelier's "
                  "principle", "benzene", "alkanes and alkenes", "chemical kinetics", "buffer solutions",
                  "electron configuration", "valence electrons", "the mole concept", "spectroscopy", "NMR",
                  "combustion reactions", "the solubility of salts", "esters", "redox titrations", "noble gases",
                  "balancing chemical equations", "SN1 and SN2 reactions", "chirality", "Gibbs free energy"],
    "computer science": ["recursion", "a linked list", "binary search", "hash tables", "Big O notation",
                         "dynamic programming", "object-oriented programming", "a REST API", "SQL joins",
                         "Git branches", "Docker containers", "Kubernetes", "the Linux kernel", "TCP and UDP",
                         "operating systems", "compilers", "garbage collection", "multithreading", "deadlocks",
                         "machine learning", "neural networks", "sorting algorithms", "quicksort", "graph "
                         "algorithms", "Dijkstra's algorithm", "a binary tree", "regular expressions",
                         "databases", "caching", "virtual memory", "pointers in C", "Python decorators",
                         "JavaScript promises", "async/await", "unit testing", "version control",
                         "microservices", "public key cryptography", "HTTP", "DNS", "a web server",
                         "memory leaks", "Rust ownership", "type inference", "the CAP theorem", "load "
                         "balancing", "React hooks", "a bash script", "cloud computing", "the TCP handshake"],
    "economics": ["inflation", "supply and demand", "GDP", "monetary policy", "fiscal policy", "interest "
                  "rates", "unemployment", "the Federal Reserve", "opportunity cost", "comparative advantage",
                  "elasticity of demand", "market equilibrium", "monopolies", "oligopoly", "game theory in "
                  "markets", "externalities", "public goods", "international trade", "tariffs", "exchange "
                  "rates", "recessions", "Keynesian economics", "the Phillips curve", "economic growth",
                  "income inequality", "the money supply", "quantitative easing", "marginal utility",
                  "consumer surplus", "price controls", "the business cycle", "trade deficits", "taxes and "
                  "deadweight loss", "behavioral economics", "the stock market", "central banks",
                  "stagflation", "the labor market", "perfect competition"],
    "engineering": ["a bridge design", "structural loads", "beam deflection", "thermodynamics of engines",
                    "heat exchangers", "control systems", "PID controllers", "signal processing", "circuit "
                    "design", "op-amps", "transistors", "power electronics", "electric motors", "fluid "
                    "mechanics", "pipe flow", "stress and strain", "material fatigue", "CAD modeling",
                    "manufacturing tolerances", "welding", "gear ratios", "HVAC systems", "a transformer's "
                    "efficiency", "three-phase power", "reinforced concrete", "soil mechanics", "turbines",
                    "a PCB layout", "feedback loops", "vibration analysis", "the Reynolds number", "torque",
                    "a voltage divider", "a water treatment plant", "a cantilever beam", "a robot arm",
                    "sensors and actuators", "the Carnot cycle", "finite element analysis", "hydraulics"],
    "health": ["high blood pressure", "diabetes", "a healthy diet", "sleep hygiene", "vitamin D", "migraines",
               "a sore throat", "the flu", "COVID symptoms", "back pain", "exercise routines", "weight loss",
               "cholesterol", "vaccines", "allergies", "asthma", "anxiety medication", "ibuprofen",
               "antibiotics", "a sprained ankle", "heart disease", "cancer screening", "pregnancy nutrition",
               "dehydration", "a fever in children", "skin rashes", "insomnia", "first aid for burns",
               "intermittent fasting", "blood tests", "kidney stones", "physical therapy", "dental care",
               "eye strain", "stroke symptoms", "hypertension drugs", "iron deficiency", "a vegan diet",
               "the side effects of statins", "arthritis"],
    "history": ["the French Revolution", "World War I", "World War II", "the Roman Empire", "the Cold War",
                "the Renaissance", "the Industrial Revolution", "ancient Egypt", "the Ming dynasty", "the "
                "American Civil War", "the fall of the Berlin Wall", "the Ottoman Empire", "the Byzantine "
                "Empire", "the Aztecs", "the Silk Road", "colonialism in Africa", "the Meiji Restoration",
                "the Russian Revolution", "the Crusades", "the Reformation", "Napoleon", "Julius Caesar",
                "the Black Death", "the civil rights movement", "the Mongol Empire", "ancient Greece",
                "the Magna Carta", "the partition of India", "the Vikings", "the Great Depression",
                "the Treaty of Versailles", "the American Revolution", "the Spanish conquest of the Incas",
                "the printing press", "the history of Rome", "medieval Europe", "the Holocaust"],
    "law": ["contract law", "a non-disclosure agreement", "tenant rights", "copyright", "trademarks",
            "patents", "criminal law", "due process", "the Fourth Amendment", "negligence", "a lawsuit",
            "small claims court", "divorce law", "custody agreements", "wills and trusts", "employment law",
            "wrongful termination", "GDPR", "data protection law", "defamation", "fair use", "a lease "
            "agreement", "consumer protection", "liability waivers", "the statute of limitations",
            "constitutional law", "the First Amendment", "immigration law", "a power of attorney",
            "intellectual property", "torts", "plea bargains", "the burden of proof", "arbitration",
            "a cease and desist letter", "licensing open source code", "the Miranda rights", "jury trials",
            "strict liability", "breach of contract"],
    "math": ["derivatives", "integrals", "limits", "the chain rule", "linear algebra", "eigenvalues",
             "matrices", "probability", "Bayes' theorem", "prime numbers", "the Pythagorean theorem",
             "quadratic equations", "logarithms", "complex numbers", "a proof by induction", "set theory",
             "differential equations", "Taylor series", "statistics", "standard deviation", "combinatorics",
             "permutations", "geometry", "trigonometry", "vectors", "fractions", "percentages", "group "
             "theory", "the Fibonacci sequence", "modular arithmetic", "polynomials", "number theory",
             "the binomial theorem", "calculus", "graph theory", "a system of linear equations", "topology",
             "exponential growth", "the area of a circle", "the volume of a sphere"],
    "other": ["a good book to read", "a birthday gift for my mom", "a recipe for pancakes", "my weekend plans",
              "a trip to Japan", "a funny joke", "learning to play guitar", "gardening tips", "a new hobby",
              "cleaning my apartment", "a movie recommendation", "the best coffee", "writing a poem",
              "a short story", "a wedding speech", "a name for my dog", "travel packing", "a workout "
              "playlist", "a party theme", "how to tie a tie", "video games", "knitting", "a road trip",
              "photography tips", "a haiku", "fashion advice", "home decor", "a riddle", "board games",
              "a thank-you note", "planning a picnic", "the best pizza toppings", "learning a new language",
              "my cat", "a camping trip", "Halloween costumes", "a dinner menu", "baking bread",
              "sports trivia", "a crossword clue"],
    "philosophy": ["free will", "utilitarianism", "Kant's categorical imperative", "existentialism", "the "
                   "trolley problem", "the meaning of life", "Plato's cave", "Descartes", "Nietzsche",
                   "stoicism", "virtue ethics", "the mind-body problem", "epistemology", "moral relativism",
                   "determinism", "the ship of Theseus", "nihilism", "Aristotle's ethics", "empiricism",
                   "rationalism", "consciousness", "personal identity", "the problem of evil", "Socrates",
                   "Hume's problem of induction", "social contract theory", "Confucius", "Buddhist "
                   "philosophy", "logic and fallacies", "metaphysics", "John Rawls", "phenomenology",
                   "the categorical imperative", "Wittgenstein", "ethics of AI", "justice", "skepticism"],
    "physics": ["Newton's laws", "gravity", "quantum mechanics", "the theory of relativity", "black holes",
                "electromagnetism", "entropy", "kinetic energy", "momentum", "friction", "projectile motion",
                "the speed of light", "wave-particle duality", "the photoelectric effect", "nuclear fission",
                "magnetic fields", "optics", "refraction", "thermodynamics", "string theory", "the Big Bang",
                "dark matter", "Ohm's law", "electric fields", "simple harmonic motion", "the Doppler effect",
                "Schrodinger's equation", "quantum entanglement", "centripetal force", "angular momentum",
                "the Higgs boson", "superconductivity", "radioactive decay", "torque on a rigid body",
                "pressure in fluids", "terminal velocity", "the uncertainty principle", "lasers"],
    "psychology": ["cognitive dissonance", "classical conditioning", "operant conditioning", "Maslow's "
                   "hierarchy of needs", "attachment theory", "procrastination", "motivation", "memory",
                   "depression", "anxiety", "stress management", "personality types", "the Big Five "
                   "personality traits", "confirmation bias", "child development", "Piaget's stages",
                   "Freud", "cognitive behavioral therapy", "social influence", "the bystander effect",
                   "emotional intelligence", "habits", "self-esteem", "burnout", "groupthink", "the placebo "
                   "effect", "learned helplessness", "mindfulness", "impostor syndrome", "the Stanford "
                   "prison experiment", "Milgram's experiment", "perception", "phobias", "dreams",
                   "introverts and extroverts", "the marshmallow test", "loneliness", "ADHD"],
}

GENERIC = [
    "What is {t}?", "what is {t}", "Explain {t}.", "Explain {t} in simple terms.", "Can you explain {t} to me?",
    "How does {t} work?", "Tell me about {t}.", "I need help understanding {t}.", "Give me a short summary of {t}.",
    "What are the main ideas behind {t}?", "Why is {t} important?", "ELI5: {t}", "{t} - explain like I'm five",
    "Could you give me an example of {t}?", "What's the difference between {t} and {u}?",
    "Compare {t} and {u}.", "How are {t} and {u} related?", "Write a short essay about {t}.",
    "I have an exam tomorrow on {t}, can you quiz me?", "Summarize {t} in three bullet points.",
    "What are common misconceptions about {t}?", "Help me study {t}.", "What should I know about {t}?",
    "Can you recommend resources to learn {t}?", "hey, quick question about {t}", "{t}?",
    "Explain {t} to a high school student.", "What is the history of {t}?", "Pros and cons of {t}?",
    "Write 5 exam questions about {t}.", "how do i get better at {t}", "Is it true that {t} matters?",
    "Please describe {t} briefly.", "Teach me {t} step by step.", "What are the key terms in {t}?",
    "Define {t}.", "{t} is said to be important because ", "The basic idea of {t} is that ",
    "In a few sentences, what is {t}?", "Make a study guide on {t}.", "What questions do experts ask about {t}?",
]

CODE_SNIPPETS = [
    "def add(a, b):\n    return a - b",
    "def fib(n):\n    if n <= 1:\n        return n\n    return fib(n-1) + fib(n-2)",
    "for i in range(10):\n    print(i",
    "int main(void) {\n    int *p = malloc(10);\n    p[10] = 1;\n    return 0;\n}",
    "function sum(arr) {\n  let s = 0;\n  for (let i = 0; i <= arr.length; i++) s += arr[i];\n  return s;\n}",
    "SELECT name, COUNT(*) FROM users JOIN orders ON users.id = orders.user_id GROUP BY name;",
    "public class Main {\n  public static void main(String[] args) {\n    System.out.println(\"hi\")\n  }\n}",
    "const res = await fetch(url);\nconst data = res.json();\nconsole.log(data.items);",
    "fn main() {\n    let s = String::from(\"hi\");\n    let t = s;\n    println!(\"{}\", s);\n}",
    "#!/bin/bash\nfor f in *.txt; do\n  mv $f ${f%.txt}.md\ndone",
    "def reverse(head):\n    prev = None\n    while head:\n        head.next = prev\n        prev = head\n        head = head.next\n    return prev",
    "x = [1, 2, 3]\ny = x\ny.append(4)\nprint(x)",
    "import pandas as pd\ndf = pd.read_csv('data.csv')\ndf.groupby('city').mean()",
    "class Stack:\n    def __init__(self):\n        self.items = []\n    def pop(self):\n        return self.items.pop(0)",
    "git commit -m 'fix' && git push origin main",
    "while (true) { if (queue.isEmpty()) break; process(queue.poll()); }",
    "std::vector<int> v;\nfor (auto it = v.begin(); it != v.end(); ++it) v.erase(it);",
    "docker run -p 8080:80 -v $(pwd):/app nginx",
    "package main\nimport \"fmt\"\nfunc main() {\n    ch := make(chan int)\n    ch <- 1\n    fmt.Println(<-ch)\n}",
    "try:\n    f = open('x.txt')\n    data = f.read()\nexcept:\n    pass",
    "kubectl get pods -n kube-system | grep Crash",
    "useEffect(() => { setCount(count + 1); });",
    "def is_prime(n):\n    for i in range(2, n):\n        if n % i == 0:\n            return False\n    return True",
    "SELECT * FROM orders WHERE created_at > NOW() - INTERVAL '7 days' ORDER BY total DESC LIMIT 10;",
    "char buf[8];\nstrcpy(buf, argv[1]);",
]
CODE_ASKS = [
    "Fix this Python function:\n{c}", "Why does this code not work?\n{c}", "What's wrong with this code?\n\n{c}",
    "Can you review this code?\n```\n{c}\n```", "Explain what this does:\n{c}", "{c}\n\nwhy do I get an error here",
    "Optimize this:\n{c}", "Rewrite this in a more idiomatic way:\n{c}", "Add comments to this code:\n{c}",
    "Write unit tests for:\n{c}", "{c}", "```\n{c}\n```\nthis crashes, help", "Convert this to TypeScript:\n{c}",
    "Is there a bug in this?\n{c}", "Translate this code to Go:\n{c}",
]
CODE_TASKS = [
    "Write a Python function that {x}.", "How do I {x} in JavaScript?", "Write a C program that {x}.",
    "Implement a function in Rust that {x}.", "Give me a bash one-liner that {x}.", "In Java, how do I {x}?",
    "Write a SQL query that {x}.", "Write code that {x}.", "How can I {x} in Go?", "python: {x}",
]
CODE_X = ["reverses a string", "checks if a number is prime", "sorts a list of dictionaries by a key",
          "reads a CSV file and prints the average of a column", "finds duplicates in an array",
          "parses JSON from an HTTP response", "counts word frequencies in a file", "merges two sorted lists",
          "implements binary search", "removes a key from a hash map", "connects to a PostgreSQL database",
          "makes an HTTP GET request with a timeout", "computes the nth Fibonacci number iteratively",
          "flattens a nested list", "validates an email address with a regex", "renames all files in a folder",
          "spawns a thread and waits for it", "implements an LRU cache", "serializes an object to JSON",
          "finds the longest common subsequence", "deduplicates rows in a table", "traverses a binary tree"]
CS_CHAT = [
    "Linux is said to be an open source kernel because ", "Python is called an interpreted language because ",
    "A compiler differs from an interpreter in that ", "The main job of an operating system is to ",
    "A hash table has O(1) average lookup because ", "git rebase vs merge, which one should I use?",
    "my docker container keeps restarting, how do I debug it?", "segfault in my C program, where to start?",
    "What's the best programming language to learn first?", "how do I center a div in CSS",
    "npm install fails with EACCES, what do I do?", "What does 'undefined is not a function' mean?",
    "Should I use PostgreSQL or MongoDB for my app?", "How does HTTPS keep my data safe?",
    "What is the difference between a process and a thread?", "Explain how a CPU cache works.",
    "My Python script is slow, how can I profile it?", "What is a race condition?",
    "How do neural networks learn?", "TypeError: 'NoneType' object is not subscriptable",
    "What is the time complexity of quicksort?", "How do I set up SSH keys for GitHub?",
    "What does the 'static' keyword mean in C?", "Why is my React component rendering twice?",
]
MATH_ASKS = [
    "What's {a}*{b}?", "what is {a} + {b}", "{a}+{b} is ", "{a} times {b} equals", "Calculate {a} / {b}.",
    "What is {a} minus {b}?", "{a}^2 = ?", "What is {p}% of {a}?", "Solve for x: {a}x + {b} = {c}",
    "solve {a}x - {b} = {c}", "What is the square root of {sq}?", "Simplify ({a}x + {b}x) / {c}",
    "Is {a} a prime number?", "What is {a} mod {b}?", "Find the derivative of x^{d} + {a}x.",
    "Integrate {a}x^{d} dx.", "What is the GCD of {a} and {b}?", "Factor x^2 + {s}x + {pr}.",
    "If f(x) = {a}x + {b}, what is f({d})?", "Convert {a}/{b} to a decimal.", "{a} * {b} = ",
    "compute {a} - {b} * {d}", "Round {a}.{b} to the nearest ten.", "What is {d}! ?",
    "What's the probability of rolling a sum of {d} with two dice?", "Evaluate lim x->0 sin({d}x)/x.",
    "Find the area of a circle with radius {d}.", "How many ways can I arrange {d} books on a shelf?",
    "What is log base 2 of {pw}?", "Expand (x + {d})^2.", "Is {a} divisible by {d}?",
]
WORD_PROBLEMS = [
    "{n} has {a} apples and gives {b} to a friend. How many are left?",
    "A train travels {a} miles in {d} hours. What is its average speed?",
    "If a shirt costs ${a} and is on sale for {p}% off, what is the sale price?",
    "{n} saves ${d} a week. How many weeks to save ${a}?",
    "A rectangle is {a} cm long and {b} cm wide. What is its area?",
    "There are {a} students and each bus holds {d}. How many buses are needed?",
    "{n} reads {d} pages a day. How long to finish a {a}-page book?",
    "A recipe needs {d} eggs for {b} cookies. How many eggs for {a} cookies?",
]
NAMES = ["Tom", "Sara", "Ali", "Mia", "Ken", "Priya", "Lucas", "Ana", "Omar", "Jade"]
OTHER_ASKS = [
    "Write a poem about {x}.", "Write a short story about {x}.", "Tell me a joke about {x}.",
    "Write a haiku about {x}.", "Give me ideas for {x}.", "Write song lyrics about {x}.",
    "Can you write a limerick about {x}?", "Describe {x} in a creative way.", "Help me plan {x}.",
    "What's a good name for {x}?", "Write a birthday message for {x}.", "I'm bored, suggest {x}.",
    "Write a bedtime story featuring {x}.", "Write a funny tweet about {x}.", "Any tips for {x}?",
]
OTHER_X = ["the ocean", "my cat", "autumn leaves", "a dragon who loves tea", "friendship", "a rainy Monday",
           "a surprise party", "pizza", "a lost robot", "the moon", "summer vacation", "my best friend",
           "a weekend in Paris", "coffee", "a haunted house", "a road trip", "a puppy", "winter mornings",
           "a wedding toast", "a fun date night", "things to do this weekend", "a cozy evening at home"]
SMALL_TALK = ["hi", "hello!", "Hey, how are you?", "good morning", "thanks!", "thank you so much",
              "what can you do?", "who are you?", "tell me something interesting", "I'm feeling bored",
              "What should I cook tonight?", "Recommend me a movie for tonight.", "What's your favorite color?",
              "Can you help me with something?", "ok", "lol that's funny", "What day is it today?",
              "Translate 'good night' into Spanish.", "How do I fold a fitted sheet?",
              "What's the weather like on Mars?", "Write a to-do list for moving house.",
              "Suggest a name for my new plant.", "What's a fun fact about octopuses?"]
SHORT = {  # short domain chat questions, in a user's words
    "biology": ["why do leaves change color in fall", "how do vaccines train the immune system, biologically?",
                "do fish sleep?", "how many chromosomes do humans have", "what do mitochondria do"],
    "business": ["how do I start a small business", "how to ask for a raise", "what makes a good logo",
                 "how to write an invoice", "should I incorporate as an LLC"],
    "chemistry": ["why does salt melt ice", "what is the formula for table salt", "why is water polar",
                  "what happens when you mix baking soda and vinegar", "how does soap remove grease"],
    "economics": ["why are prices going up", "what causes a recession", "why do countries trade",
                  "is a strong dollar good", "what does the central bank do with interest rates"],
    "engineering": ["how do suspension bridges stay up", "how does a jet engine work",
                    "what size resistor for an LED", "how do I calculate load on a beam",
                    "how does a heat pump work"],
    "health": ["is coffee bad for you", "how much water should I drink a day", "I have a headache, what "
               "should I take", "how much sleep do adults need", "is it normal to feel dizzy after running"],
    "history": ["who was the first Roman emperor", "why did World War 1 start", "when did the Berlin Wall fall",
                "who built the pyramids", "what caused the fall of Rome"],
    "law": ["can my landlord keep my deposit", "is it legal to record a phone call", "do I need a lawyer "
            "for small claims", "what happens if I break my lease", "can my employer fire me for this"],
    "math": ["what's 17*23", "2+2 is ", "what is 15% of 80", "how do I solve quadratic equations",
             "what is pi", "is 91 prime", "what's the square root of 144", "half of 3/4?"],
    "philosophy": ["do we have free will", "what is the meaning of life", "is it ever ok to lie",
                   "what did Kant believe", "what is consciousness"],
    "physics": ["why is the sky blue", "how fast does light travel", "why do objects fall at the same rate",
                "what is a black hole", "how do magnets work"],
    "psychology": ["why do I procrastinate", "how do I stop overthinking", "why do we dream",
                   "how do habits form", "why am I always anxious before exams"],
    "computer science": ["what is an API", "how does the internet work", "what is a database index",
                         "how do I learn to code", "what does a compiler do"],
    "other": ["what should I name my dog", "give me a fun weekend idea", "write me a poem",
              "what's a good gift for a 10 year old", "plan a 3 day trip to Rome"],
}


def _num(rng):
    return rng.choice([rng.randint(2, 20), rng.randint(10, 99), rng.randint(100, 999), rng.randint(1000, 9999)])


def gen_math(rng):
    if rng.random() < 0.3:
        t = rng.choice(WORD_PROBLEMS)
    else:
        t = rng.choice(MATH_ASKS)
    a, b, c, d = _num(rng), _num(rng), _num(rng), rng.randint(2, 9)
    s, pr = rng.randint(2, 12), rng.randint(2, 30)
    return t.format(a=a, b=b, c=c, d=d, p=rng.choice([5, 10, 15, 20, 25, 30, 50]), sq=rng.randint(2, 30) ** 2,
                    s=s, pr=pr, pw=2 ** rng.randint(2, 12), n=rng.choice(NAMES))


def gen_cs(rng):
    r = rng.random()
    if r < 0.35:
        return rng.choice(CODE_ASKS).format(c=rng.choice(CODE_SNIPPETS))
    if r < 0.6:
        return rng.choice(CODE_TASKS).format(x=rng.choice(CODE_X))
    if r < 0.75:
        return rng.choice(CS_CHAT)
    return None


def gen_other(rng):
    r = rng.random()
    if r < 0.45:
        return rng.choice(OTHER_ASKS).format(x=rng.choice(OTHER_X))
    if r < 0.65:
        return rng.choice(SMALL_TALK)
    return None


def vary(rng, s):
    r = rng.random()
    if r < 0.15:
        s = s.lower()
    elif r < 0.22:
        s = s.rstrip("?.!")
    if rng.random() < 0.1:
        s = rng.choice(["Hi! ", "Hey, ", "Quick question: ", "Please help. ", "I was wondering, "]) + s
    return s


def generate(n_per_category=400, seed=1):
    rng = random.Random(seed)
    out = []
    for cat in sorted(TOPICS):
        topics = TOPICS[cat]
        for _ in range(n_per_category):
            text = None
            if cat == "math" and rng.random() < 0.6:
                text = gen_math(rng)
            elif cat == "computer science":
                text = gen_cs(rng)
            elif cat == "other":
                text = gen_other(rng)
            if text is None and rng.random() < 0.15:
                text = rng.choice(SHORT[cat])
            if text is None:
                t, u = rng.sample(topics, 2)
                text = rng.choice(GENERIC).format(t=t, u=u)
            out.append({"text": vary(rng, text), "category": cat, "source": "generated:templates"})
    return out


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    for r in generate(n, seed):
        print(json.dumps(r, ensure_ascii=False))
