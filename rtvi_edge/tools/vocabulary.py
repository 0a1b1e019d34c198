"""Words of a home, as data: which words name the same thing, and which words name things.

The lexical matcher knows a tool by its own words. People say "post" for a mailbox,
"rubbish" for the bin, "tub" for a bath: these groups tie such words together, so a
tool named for one member is found by the others. Each group is one kind of thing
(or one measure of it), never a loose association ("garden" is not "lawn"), so that
a request for something else does not borrow a tool. Plain data; matching.py uses it.
"""

from __future__ import annotations

# One line per thing: every word on it names the same thing for a home assistant.
SYNONYM_TEXT = """
    mail post letter letters letterbox mailbox postbox postman
    parcel parcels package packages delivery deliveries delivered courier shipment order
    bin bins rubbish trash garbage waste recycling refuse dustbin collection collected
    fire fireplace hearth woodburner
    solar panel panels photovoltaic pv
    rain rained raining rainfall gauge precipitation
    baby infant nursery cot crib newborn
    bath bathtub tub
    radio station stations fm dab
    note notes memo jot
    cat cats kitten kittens
    wifi wi-fi internet network broadband router
    coffee espresso latte cappuccino
    speaker speakers
    heater heating radiator radiators
    aircon air-conditioning ac cooling
    curtain curtains drapes
    blind blinds shade shades
    doorbell bell ring rang
    car vehicle ev
    plants plant houseplant houseplants soil pot
"""

# Nouns that name a thing or a place in or around a home. A tool whose description
# names one is about it as much as about its own name ("check_mailbox: whether post
# has arrived in the letterbox" is about post and the letterbox).
THING_TEXT = """
    door garage gate window blind blinds curtain shutter light lamp bulb plug socket lock
    alarm heating heater boiler thermostat fan oven stove cooker kettle fridge freezer
    dishwasher washer dryer tv television sprinkler camera doorbell vacuum car charger
    battery sensor phone laptop tablet computer printer microwave toaster iron radio router
    mail post letterbox mailbox parcel package bin rubbish fireplace fire panels panel
    gauge baby tub bathtub bath shower toilet sink tap pool pond sauna awning
    hedge shed fence gutter chimney cat kitten aquarium feeder bowl plants soil speaker
    coffee station solar internet wifi
"""
