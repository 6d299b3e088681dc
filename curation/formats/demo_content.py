# ruff: noqa: E501  (data tables read better one entry per line)
"""Fact tables and templates behind the demo pool (curation.formats.demo): plain data, no logic beyond formatting.

Every answer is built from the facts or computed (arithmetic), so the demo pool is correct where it is meant
to be clean; the planted noise is added by curation.formats.demo.
"""

from __future__ import annotations

COUNTRIES = {  # name: (capital, continent, languages, one fact)
    "France": ("Paris", "Europe", "French", "It is the most visited country in the world."),
    "Japan": ("Tokyo", "Asia", "Japanese", "It is an archipelago of more than 14,000 islands."),
    "Brazil": ("Brasilia", "South America", "Portuguese", "Most of the Amazon rainforest lies within it."),
    "Kenya": ("Nairobi", "Africa", "Swahili and English", "The equator runs through the middle of it."),
    "Canada": ("Ottawa", "North America", "English and French", "It has the longest coastline of any country."),
    "Australia": ("Canberra", "Oceania", "English", "It is both a country and a continent."),
    "Egypt": ("Cairo", "Africa", "Arabic", "The Nile flows through it from south to north."),
    "India": ("New Delhi", "Asia", "Hindi, English and many regional languages",
              "It is the most populous country in the world."),
    "Norway": ("Oslo", "Europe", "Norwegian", "Its coast is cut by deep fjords carved by glaciers."),
    "Mexico": ("Mexico City", "North America", "Spanish", "Its capital is built on the bed of a former lake."),
    "Peru": ("Lima", "South America", "Spanish, Quechua and Aymara", "Machu Picchu stands in its Andes."),
    "Vietnam": ("Hanoi", "Asia", "Vietnamese", "It is one of the world's largest exporters of coffee."),
    "Portugal": ("Lisbon", "Europe", "Portuguese", "It is the westernmost country of mainland Europe."),
    "Morocco": ("Rabat", "Africa", "Arabic and Berber", "The Atlas Mountains cross it from west to east."),
}

DISHES = {  # name: (ingredients, method)
    "pancakes": ("flour, milk, eggs, sugar, baking powder and butter",
                 "Whisk the dry and wet ingredients separately, combine them into a smooth batter, and cook "
                 "ladlefuls on a buttered pan until bubbles form, then flip once."),
    "guacamole": ("ripe avocados, lime juice, onion, coriander, chilli and salt",
                  "Mash the avocados, stir in the lime juice, chopped onion, coriander and chilli, and season "
                  "with salt to taste."),
    "tomato soup": ("tomatoes, onion, garlic, vegetable stock, olive oil and basil",
                    "Soften the onion and garlic in olive oil, add the tomatoes and stock, simmer for twenty "
                    "minutes and blend with fresh basil."),
    "fried rice": ("cooked rice, eggs, spring onions, peas, soy sauce and oil",
                   "Stir-fry the vegetables in hot oil, push them aside to scramble the eggs, then add cold "
                   "rice and soy sauce and toss until hot."),
    "hummus": ("chickpeas, tahini, lemon juice, garlic, olive oil and salt",
               "Blend the chickpeas with tahini, lemon juice and garlic, loosen with water, and finish with "
               "olive oil and salt."),
    "omelette": ("eggs, butter, salt, pepper and a filling such as cheese or herbs",
                 "Beat the eggs with salt and pepper, pour them into foaming butter, stir gently until "
                 "almost set, add the filling and fold."),
    "banana bread": ("ripe bananas, flour, sugar, eggs, butter and baking soda",
                     "Mash the bananas, mix in melted butter, sugar and eggs, fold in the flour and baking "
                     "soda, and bake for about an hour at 175 degrees Celsius."),
    "lentil curry": ("red lentils, onion, garlic, ginger, curry powder, tomatoes and coconut milk",
                     "Fry the onion, garlic and ginger with curry powder, add lentils, tomatoes and coconut "
                     "milk, and simmer until the lentils are soft."),
    "caesar salad": ("romaine lettuce, croutons, parmesan, and a dressing of egg yolk, garlic, anchovy, "
                     "lemon and olive oil",
                     "Whisk the dressing, toss it with torn lettuce, and top with croutons and shaved "
                     "parmesan."),
    "risotto": ("arborio rice, onion, white wine, hot stock, butter and parmesan",
                "Toast the rice with softened onion, add the wine, then the stock a ladle at a time while "
                "stirring, and finish with butter and parmesan."),
}

PYTHON_TASKS = {  # task: code
    "reverses a string": "def reverse(text: str) -> str:\n    return text[::-1]",
    "checks whether a number is prime":
        "def is_prime(n: int) -> bool:\n    if n < 2:\n        return False\n"
        "    return all(n % d for d in range(2, int(n ** 0.5) + 1))",
    "returns the factorial of n":
        "def factorial(n: int) -> int:\n    result = 1\n    for k in range(2, n + 1):\n        result *= k\n"
        "    return result",
    "counts the vowels in a string": "def count_vowels(text: str) -> int:\n"
                                     "    return sum(ch in 'aeiouAEIOU' for ch in text)",
    "removes duplicates from a list while keeping the order":
        "def dedupe(items: list) -> list:\n    return list(dict.fromkeys(items))",
    "returns the n-th Fibonacci number":
        "def fib(n: int) -> int:\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n"
        "    return a",
    "checks whether a word is a palindrome":
        "def is_palindrome(word: str) -> bool:\n    w = word.lower()\n    return w == w[::-1]",
    "flattens a list of lists": "def flatten(rows: list[list]) -> list:\n"
                                "    return [x for row in rows for x in row]",
    "counts word frequencies in a text":
        "from collections import Counter\n\ndef word_counts(text: str) -> Counter:\n"
        "    return Counter(text.lower().split())",
    "merges two sorted lists":
        "import heapq\n\ndef merge_sorted(a: list, b: list) -> list:\n    return list(heapq.merge(a, b))",
    "converts Celsius to Fahrenheit": "def c_to_f(celsius: float) -> float:\n    return celsius * 9 / 5 + 32",
    "finds the largest number in a list without using max":
        "def largest(xs: list[float]) -> float:\n    best = xs[0]\n    for x in xs[1:]:\n"
        "        if x > best:\n            best = x\n    return best",
}

BUILTINS = {
    "zip": "pairs up the items of several iterables, stopping at the shortest one",
    "enumerate": "yields (index, item) pairs, so a loop gets the position along with each item",
    "sorted": "returns a new sorted list from any iterable, optionally with a key function or in reverse",
    "map": "applies a function to every item of an iterable and yields the results lazily",
    "any": "returns True if at least one item of an iterable is truthy",
    "isinstance": "checks whether an object is an instance of a class or of one of several classes",
    "range": "produces an immutable sequence of integers, often used to loop a fixed number of times",
    "len": "returns the number of items in a container such as a list, string or dict",
}

SCIENCE = {  # concept: explanation
    "photosynthesis": "Plants use sunlight, water and carbon dioxide to make glucose and release oxygen.",
    "gravity": "Every mass attracts every other mass; the pull grows with mass and weakens with distance.",
    "evaporation": "Molecules at the surface of a liquid gain enough energy to escape as a gas.",
    "an atom": "The smallest unit of an element: a nucleus of protons and neutrons orbited by electrons.",
    "DNA": "A long molecule that stores genetic instructions as a sequence of four bases.",
    "a black hole": "A region where gravity is so strong that not even light can escape from it.",
    "inflation": "A general rise in prices that reduces what a unit of money can buy.",
    "the water cycle": "Water evaporates, condenses into clouds, falls as precipitation and flows back to seas.",
    "an ecosystem": "A community of living things interacting with each other and their environment.",
    "plate tectonics": "Earth's crust is split into plates that drift slowly, causing earthquakes and mountains.",
    "a vaccine": "A preparation that trains the immune system to recognise a germ without causing disease.",
    "the greenhouse effect": "Gases in the atmosphere trap heat radiated by Earth, warming its surface.",
    "an electric circuit": "A closed loop through which current flows from a source, through a load and back.",
    "osmosis": "Water moves through a membrane from a weaker solution into a more concentrated one.",
    "a rainbow": "Sunlight is refracted and reflected inside raindrops, splitting into its colours.",
}

HISTORY = {  # event: (year, description)
    "the fall of the Berlin Wall": ("1989", "East Germany opened the border and crowds tore down the wall."),
    "the first Moon landing": ("1969", "Apollo 11 landed and Neil Armstrong became the first to walk on the Moon."),
    "the signing of the Magna Carta": ("1215", "English barons forced King John to accept limits on his power."),
    "the invention of the printing press": ("around 1440", "Johannes Gutenberg built a press with movable "
                                            "metal type in Mainz."),
    "the start of the French Revolution": ("1789", "The storming of the Bastille began a decade of upheaval."),
    "the end of the Second World War": ("1945", "Germany surrendered in May and Japan in September."),
    "the founding of the United Nations": ("1945", "Fifty countries signed its charter in San Francisco."),
    "the first powered flight": ("1903", "The Wright brothers flew for twelve seconds at Kitty Hawk."),
    "the opening of the Suez Canal": ("1869", "It linked the Mediterranean and the Red Sea."),
    "the fall of Constantinople": ("1453", "Ottoman forces captured the capital of the Byzantine Empire."),
    "the discovery of penicillin": ("1928", "Alexander Fleming noticed mould killing bacteria in a dish."),
    "the launch of Sputnik": ("1957", "The Soviet Union put the first artificial satellite into orbit."),
}

EXERCISES = {  # exercise: (muscles, how)
    "squat": ("thighs and glutes", "Stand with feet shoulder-width apart, sit back until thighs are parallel to "
                                   "the floor, and push up through the heels."),
    "push-up": ("chest, shoulders and triceps", "Keep the body straight, lower the chest to the floor and "
                                                "press back up."),
    "plank": ("the core", "Hold a straight line from head to heels on forearms and toes, breathing steadily."),
    "lunge": ("thighs and glutes", "Step forward, lower the back knee towards the floor and push back up."),
    "deadlift": ("back, glutes and hamstrings", "Hinge at the hips with a flat back, grip the bar and stand up "
                                                "by driving the hips forward."),
    "pull-up": ("back and biceps", "Hang from a bar and pull until the chin passes it, then lower slowly."),
    "burpee": ("the whole body", "Squat, kick back into a plank, do a push-up, jump the feet in and leap up."),
    "glute bridge": ("glutes and hamstrings", "Lie on your back with bent knees and lift the hips until the body "
                                              "forms a straight line."),
}

FRUITS = ["apple", "banana", "mango", "pear", "cherry", "plum", "kiwi", "grape", "peach", "apricot"]
VEGETABLES = ["carrot", "broccoli", "spinach", "leek", "cabbage", "onion", "celery", "kale", "radish", "pea"]
ANIMALS = {"dog": "mammal", "whale": "mammal", "bat": "mammal", "horse": "mammal", "eagle": "bird",
           "penguin": "bird", "owl": "bird", "sparrow": "bird", "salmon": "fish", "shark": "fish", "tuna": "fish",
           "trout": "fish"}

HAIKU_SUBJECTS = ["autumn rain", "the sea", "a cup of tea", "snow on mountains", "a city at night", "spring",
                  "an old cat", "the first frost", "a train journey", "the moon", "a garden", "morning fog"]
HAIKU_LINES = (["Quiet {s} falls", "Softly, {s} wakes", "Over {s}, light", "Beneath {s}, calm"],
               ["the world slows down for a breath", "a small bird listens and waits",
                "shadows stretch across the path", "old memories drift like leaves"],
               ["and then, silence", "nothing else moves", "the day begins", "I close my eyes"])

IDEAS = {  # activity: three ideas
    "a rainy weekend": ["bake bread from scratch", "start a jigsaw puzzle", "watch a film trilogy"],
    "a team-building event": ["an escape room", "a cooking class", "a volunteer day at a food bank"],
    "a child's birthday party": ["a treasure hunt", "a pirate costume parade", "a decorate-your-own-cake table"],
    "saving money on groceries": ["plan meals for the week", "buy store brands", "cook big batches and freeze"],
    "learning a new language": ["label things at home", "watch series with subtitles", "find a tandem partner"],
    "a science fair project": ["grow plants under coloured light", "build a water filter", "test paper planes"],
    "a quiet evening": ["read a novel", "take a long bath", "write in a journal"],
    "reducing screen time": ["keep the phone in another room", "take up a hobby with your hands",
                             "set app time limits"],
    "a first trip to Japan": ["ride the shinkansen", "stay in a ryokan", "visit Kyoto's temples at dawn"],
    "a small balcony garden": ["grow herbs in pots", "hang a vertical planter", "plant cherry tomatoes"],
}

THANKS = [("a neighbour", "watering my plants"), ("a teacher", "a year of patient help"),
          ("a colleague", "covering my shift"), ("my grandmother", "the knitted scarf"),
          ("a friend", "helping me move house"), ("the team", "a successful launch"),
          ("a doctor", "the careful treatment"), ("a host", "a lovely dinner")]

# noise: answers in another language (to English instructions), and garbage fragments
WRONG_LANGUAGE = [
    "Lo siento, no tengo información suficiente para responder a esta pregunta.",
    "La réponse dépend de plusieurs facteurs, mais en général, c'est une bonne idée.",
    "Die Antwort ist nicht ganz einfach, aber es gibt mehrere Möglichkeiten.",
    "Questa è una domanda interessante, ma la risposta è complicata.",
    "Het antwoord hangt af van de situatie en de context.",
    "A resposta é simples: depende do ponto de vista.",
]
NEAR_EMPTY = ["N/A", "...", "?", "ok", "-", "see above"]
PARAPHRASE_PREFIXES = ["Can you tell me: ", "Quick question: ", "Please answer this: ", "I was wondering, ",
                       "Could you help? ", "Hey! "]
ANSWER_PREFIXES = ["Sure! ", "Of course. ", "Good question. ", "Here you go: ", ""]
