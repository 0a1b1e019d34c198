"""The tool eval's utterances: a dev set (for tuning) and a held-out set (for the report).

Each case: the words, the tool they must call (None: none), arguments that
must be present, and `honest`: with no tool called, the device must say it
cannot tell (a device state, a device that is not set up...). The held-out set
was written before any tuning and is never used to tune.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Client-side functions, as an RTVI client declares them.
WEATHER_FUNCTION: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather forecast for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
# Only a description, as in the issue that asked for all this.
GARAGE_FUNCTION: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_garage_door",
        "description": "Tells whether the garage door is open or closed.",
        "parameters": {"type": "object", "properties": {}},
    },
}
THERMOSTAT_FUNCTION: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "set_thermostat",
        "description": "Set the heating thermostat to a temperature in degrees",
        "parameters": {
            "type": "object",
            "properties": {"temperature": {"type": "number"}},
            "required": ["temperature"],
        },
        "examples": ["Set the thermostat to 20 degrees", "Make it warmer, 22 degrees"],
    },
}
SHOPPING_FUNCTION: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "add_to_shopping_list",
        "description": "Add an item to the shopping list",
        "parameters": {
            "type": "object",
            "properties": {"item": {"type": "string"}},
            "required": ["item"],
        },
        "keywords": ["groceries", "grocery", "buy"],
    },
}
CLIENT_FUNCTIONS = [WEATHER_FUNCTION, GARAGE_FUNCTION, THERMOSTAT_FUNCTION, SHOPPING_FUNCTION]
DEVICES = {
    "kitchen light": "home/kitchen/light/set",
    "fan": "home/fan/set",
    "living room lamp": "home/living/lamp/set",
}


@dataclass(frozen=True)
class Case:
    text: str
    tool: str | None
    args: dict[str, Any] = field(default_factory=dict)
    honest: bool = False  # no tool: the answer must be "I can't tell"


def _c(text: str, tool: str | None = None, honest: bool = False, **args: Any) -> Case:
    return Case(text, tool, args, honest)


DEV: list[Case] = [
    _c("What time is it?", "get_time"),
    _c("Can you tell me the time please?", "get_time"),
    _c("What day is it today?", "get_time"),
    _c("Do you know what time it is right now?", "get_time"),
    _c("What's the date?", "get_time"),
    _c("Set a timer for five minutes.", "set_timer", seconds=300),
    _c("Set a 10 second timer.", "set_timer", seconds=10),
    _c("Remind me in 20 minutes.", "set_timer", seconds=1200),
    _c("Please set a timer for 90 seconds for the eggs.", "set_timer", seconds=90),
    _c("Start a countdown of three minutes.", "set_timer", seconds=180),
    _c("Cancel the timer.", "cancel_timer"),
    _c("Stop the timer please.", "cancel_timer"),
    _c("Get rid of my timer.", "cancel_timer"),
    _c("How much time is left?", "list_timers"),
    _c("What timers do I have?", "list_timers"),
    _c("How long until my timer rings?", "list_timers"),
    _c("Set the volume to 40 percent.", "set_volume", level=40),
    _c("Volume 70.", "set_volume", level=70),
    _c("Louder.", "change_volume", direction="up"),
    _c("Could you make the volume quieter?", "change_volume", direction="down"),
    _c("Turn the volume down please.", "change_volume", direction="down"),
    _c("Mute.", "mute_speaker", muted=True),
    _c("Unmute the speaker.", "mute_speaker", muted=False),
    _c("Stop.", "stop"),
    _c("Never mind.", "stop"),
    _c("Turn on the kitchen light.", "control_device", device="kitchen light", state="on"),
    _c("Switch off the fan.", "control_device", device="fan", state="off"),
    _c("Kitchen light on, please.", "control_device", device="kitchen light", state="on"),
    _c(
        "Could you switch the living room lamp on?",
        "control_device",
        device="living room lamp",
        state="on",
    ),
    _c("What's the weather like in Paris?", "get_weather", city="Paris"),
    _c("Will it rain in London today?", "get_weather", city="London"),
    _c("How warm is it in Berlin?", "get_weather", city="Berlin"),
    _c("Is the garage door open?", "get_garage_door"),
    _c("Can you check the garage door for me?", "get_garage_door"),
    _c("Did I leave the garage door open?", "get_garage_door"),
    _c("Set the thermostat to 20 degrees.", "set_thermostat", temperature=20),
    _c("Heat the house to 22 degrees.", "set_thermostat", temperature=22),
    _c("Add apples to the shopping list.", "add_to_shopping_list", item="apples"),
    _c("Put coffee on my grocery list.", "add_to_shopping_list", item="coffee"),
    _c("Have you got the time?", "get_time"),
    _c("What time have you got?", "get_time"),
    _c("Show me my timers.", "list_timers"),
    _c("Put the sound back on.", "mute_speaker", muted=False),
    _c("Light in the kitchen off.", "control_device", device="kitchen light", state="off"),
    _c("Could you see if the garage door is closed?", "get_garage_door"),
    _c("What's the temperature outside in Lisbon?", "get_weather", city="Lisbon"),
    _c("I have to buy rice, put it on the list.", "add_to_shopping_list", item="rice"),
    # must call nothing
    _c("How long does it take to bake bread?"),
    _c("How many hours are in a week?"),
    _c("What is an alarm clock for?"),
    _c("How do you pronounce thermostat?"),
    _c("What does a dishwasher do?"),
    _c("Is a fan better than air conditioning?"),
    _c("What is the capital of France?"),
    _c("Tell me a joke."),
    _c("How are you today?"),
    _c("Who wrote Romeo and Juliet?"),
    _c("What is two plus two?"),
    _c("Explain what a black hole is."),
    _c("What's your name?"),
    _c("Tell me a story about a timer that could talk."),
    _c("Why is the sky blue?"),
    _c("What time did the Titanic sink?"),
    _c("I like the weather today."),
    _c("Thank you!"),
    _c("How do I open a jar that is stuck?"),
    _c("What is the best way to learn a language?"),
    _c("Who discovered electricity?"),
    _c("What's the difference between a lamp and a lantern?"),
    # no tool for it: must say it cannot tell
    _c("Is the front door locked?", honest=True),
    _c("Did I leave the stove on?", honest=True),
    _c("Turn on the bathroom heater.", honest=True),
    _c("Are the lights in the bedroom on?", honest=True),
    _c("Is the fridge door closed?", honest=True),
    _c("Is the kettle boiling?", honest=True),
]

HELDOUT: list[Case] = [
    # builtin: clock
    _c("Got the time?", "get_time"),
    _c("What time do you have?", "get_time"),
    _c("Could you check the time for me?", "get_time"),
    _c("What's the time right now, please?", "get_time"),
    _c("Which day of the week is it?", "get_time"),
    _c("What is the date today?", "get_time"),
    _c("Tell me today's date.", "get_time"),
    # builtin: timers
    _c("Timer, fifteen minutes.", "set_timer", seconds=900),
    _c("Can you set a timer for 3 minutes please", "set_timer", seconds=180),
    _c("I need a timer for forty five seconds.", "set_timer", seconds=45),
    _c("Set an alarm for 10 minutes from now.", "set_timer", seconds=600),
    _c("Remind me in two hours.", "set_timer", seconds=7200),
    _c("Put a 25 minute timer on.", "set_timer", seconds=1500),
    _c("Count down two minutes for me.", "set_timer", seconds=120),
    _c("Cancel my alarm please.", "cancel_timer"),
    _c("Delete the timer.", "cancel_timer"),
    _c("Forget the timer, cancel it.", "cancel_timer"),
    _c("Please remove my timer.", "cancel_timer"),
    _c("How long is left on my timer?", "list_timers"),
    _c("Is my timer still running?", "list_timers"),
    _c("How much longer on the timer?", "list_timers"),
    _c("Check my timers.", "list_timers"),
    # builtin: volume, mute, stop
    _c("Put the volume at 30 percent.", "set_volume", level=30),
    _c("Change the volume to sixty.", "set_volume", level=60),
    _c("Set the speaker volume to 25.", "set_volume", level=25),
    _c("Can you turn the volume up?", "change_volume", direction="up"),
    _c("It's too loud, turn the volume down.", "change_volume", direction="down"),
    _c("Speak up please, I can't hear you.", "change_volume", direction="up"),
    _c("Make the volume higher.", "change_volume", direction="up"),
    _c("A little quieter please.", "change_volume", direction="down"),
    _c("Please mute yourself.", "mute_speaker", muted=True),
    _c("Silence the speaker.", "mute_speaker", muted=True),
    _c("Turn the sound back on.", "mute_speaker", muted=False),
    _c("Stop talking please.", "stop"),
    _c("OK stop.", "stop"),
    _c("Shh, be quiet.", "stop"),
    # builtin: devices
    _c(
        "Could you turn on the kitchen light?", "control_device", device="kitchen light", state="on"
    ),
    _c("Switch the fan on please.", "control_device", device="fan", state="on"),
    _c("Turn the living room lamp off.", "control_device", device="living room lamp", state="off"),
    _c("Kitchen light off please.", "control_device", device="kitchen light", state="off"),
    _c(
        "Please switch off the living room lamp.",
        "control_device",
        device="living room lamp",
        state="off",
    ),
    _c("Can you turn the fan off?", "control_device", device="fan", state="off"),
    _c("I'd like the kitchen light on.", "control_device", device="kitchen light", state="on"),
    _c(
        "Lamp in the living room on please.",
        "control_device",
        device="living room lamp",
        state="on",
    ),
    # client functions, no arguments (description only)
    _c("Is the garage door open?", "get_garage_door"),
    _c("Is the garage closed?", "get_garage_door"),
    _c("What's the status of the garage door?", "get_garage_door"),
    _c("Garage door, open or closed?", "get_garage_door"),
    _c("Did somebody leave the garage open?", "get_garage_door"),
    _c("Please check whether the garage door is shut.", "get_garage_door"),
    # client functions with arguments
    _c("What's the weather in Tokyo?", "get_weather", city="Tokyo"),
    _c("Is it going to rain in Seattle today?", "get_weather", city="Seattle"),
    _c("Give me the forecast for Madrid.", "get_weather", city="Madrid"),
    _c("How's the weather in New York right now?", "get_weather", city="New York"),
    _c("What's the temperature in Oslo?", "get_weather", city="Oslo"),
    _c("Weather for Chicago please.", "get_weather", city="Chicago"),
    _c("Will it be sunny in Rome tomorrow?", "get_weather", city="Rome"),
    _c("Set the thermostat to 21 degrees.", "set_thermostat", temperature=21),
    _c("Make it 19 degrees in here.", "set_thermostat", temperature=19),
    _c("Change the heating to 23 degrees.", "set_thermostat", temperature=23),
    _c("I want the thermostat at twenty two.", "set_thermostat", temperature=22),
    _c("Add milk to my shopping list.", "add_to_shopping_list", item="milk"),
    _c("Put eggs on the shopping list.", "add_to_shopping_list", item="eggs"),
    _c("Add bananas to the grocery list.", "add_to_shopping_list", item="bananas"),
    _c("I need to buy butter, add it to the list.", "add_to_shopping_list", item="butter"),
    # must call nothing
    _c("What time does the sun set in winter?"),
    _c("What time did the first moon landing happen?"),
    _c("How long should I boil an egg?"),
    _c("Tell me a joke about the weather."),
    _c("Who invented the light bulb?"),
    _c("How does a thermostat work?"),
    _c("What's a good name for a dog?"),
    _c("Can you recommend a book?"),
    _c("What is the speed of light?"),
    _c("How do I make pancakes?"),
    _c("Translate hello into French."),
    _c("What's the square root of 81?"),
    _c("Who is the president of France?"),
    _c("Tell me something interesting."),
    _c("Good morning!"),
    _c("What can you do?"),
    _c("Do you like music?"),
    _c("How many days are in a leap year?"),
    _c("What is a timer used for?"),
    _c("Write a short poem about the rain."),
    _c("Why do doors squeak?"),
    _c("I love this song."),
    _c("What's the opposite of loud?"),
    _c("How do you spell garage?"),
    _c("How far away is the moon?"),
    _c("What is the boiling point of water?"),
    _c("Are you a robot?"),
    _c("What's your favourite colour?"),
    _c("Thanks, that was helpful."),
    _c("How old is the universe?"),
    _c("Give me a fun fact about cats."),
    _c("What rhymes with time?"),
    _c("Which is bigger, a whale or an elephant?"),
    _c("What language do they speak in Brazil?"),
    # no tool for it: must say it cannot tell
    _c("Is the back door locked?", honest=True),
    _c("Did I leave the oven on?", honest=True),
    _c("Are the bedroom lights on?", honest=True),
    _c("Is the washing machine done?", honest=True),
    _c("Is the window in the office open?", honest=True),
    _c("Turn on the porch light.", honest=True),
    _c("Lock the front door.", honest=True),
    _c("Is the dishwasher running?", honest=True),
]
