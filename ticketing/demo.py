"""The demo catalogue `make run` starts with: plainly demo, safe to load any number of times.

Three attractions in English and Simplified Chinese, the usual ticket types (a family ticket
admits 4, an infant ticket is free and takes no place), weekly opening rules, a closed day, a
special evening opening, and slots for the next `days` days.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from payments import clock

from .models import Attraction, ClosedDay, OpeningRule, SpecialOpening, TicketType
from .slot_generation import GenerationResult, generate_slots

DEMO_ATTRACTIONS = [
    {
        "slug": "demo-jade-garden",
        "name": "Jade Garden (demo)",
        "name_zh": "翡翠园（演示）",
        "description": "A classical garden of ponds, pavilions and rockeries. Timed entry keeps "
        "the paths quiet.",
        "description_zh": "一座有池塘、亭台和假山的古典园林。分时段入园，让小径保持宁静。",
        "address": "1 Garden Road, Suzhou",
        "address_zh": "苏州市园林路1号",
        "timezone": "Asia/Shanghai",
        "currency": "CNY",
        "sort_order": 1,
        "hours": [(dt.time(9), dt.time(17), 60, 50)],
        "weekdays": range(7),
        "prices": {"adult": "80.00", "child": "40.00", "senior": "40.00", "family": "200.00"},
    },
    {
        "slug": "demo-harbour-museum",
        "name": "Harbour Maritime Museum (demo)",
        "name_zh": "海港海事博物馆（演示）",
        "description": "Ships, charts and stories of the harbour, with a view over the water.",
        "description_zh": "船只、海图与港口的故事，还可眺望海景。",
        "address": "8 Pier Street, Hong Kong",
        "address_zh": "香港码头街8号",
        "timezone": "Asia/Hong_Kong",
        "currency": "HKD",
        "sort_order": 2,
        # Closed on Mondays; a longer day at the weekend.
        "hours": [(dt.time(10), dt.time(18), 30, 30)],
        "weekdays": range(1, 5),
        "weekend_hours": (dt.time(9), dt.time(19), 30, 40),
        "prices": {"adult": "120.00", "child": "60.00", "senior": "60.00", "family": "300.00"},
    },
    {
        "slug": "demo-panda-valley",
        "name": "Panda Valley (demo)",
        "name_zh": "熊猫谷（演示）",
        "description": "Walk the bamboo valley and meet the pandas at feeding time.",
        "description_zh": "漫步竹林山谷，在喂食时间与大熊猫见面。",
        "address": "88 Bamboo Lane, Chengdu",
        "address_zh": "成都市竹林巷88号",
        "timezone": "Asia/Shanghai",
        "currency": "CNY",
        "sort_order": 3,
        "hours": [(dt.time(8), dt.time(12), 120, 100), (dt.time(13), dt.time(17), 120, 100)],
        "weekdays": range(7),
        "prices": {"adult": "150.00", "child": "75.00", "senior": "75.00", "family": "380.00"},
    },
]

TICKET_TYPES = [
    # code, name, name_zh, admissions, sort
    ("adult", "Adult", "成人", 1, 1),
    ("child", "Child (3-12)", "儿童（3-12岁）", 1, 2),
    ("senior", "Senior (65+)", "长者（65岁以上）", 1, 3),
    ("family", "Family (2 adults + 2 children)", "家庭票（2大2小）", 4, 4),
    ("infant", "Infant (under 3, free)", "婴儿（3岁以下，免费）", 0, 5),
]


def load_demo_catalogue(days: int = 45) -> GenerationResult:
    """Create or update the demo attractions and their rules, then generate their slots."""
    today = clock.now().date()
    attractions = []
    with transaction.atomic():
        for spec in DEMO_ATTRACTIONS:
            fields = {
                key: spec[key]
                for key in (
                    "name",
                    "name_zh",
                    "description",
                    "description_zh",
                    "address",
                    "address_zh",
                    "timezone",
                    "currency",
                    "sort_order",
                )
            }
            attraction, _created = Attraction.objects.update_or_create(
                slug=spec["slug"], defaults=fields
            )
            attractions.append(attraction)
            for code, name, name_zh, admissions, sort in TICKET_TYPES:
                price = Decimal(spec["prices"].get(code, "0"))
                TicketType.objects.update_or_create(
                    attraction=attraction,
                    code=code,
                    defaults={
                        "name": name,
                        "name_zh": name_zh,
                        "price": price,
                        "admissions": admissions,
                        "sort_order": sort,
                    },
                )
            if not attraction.opening_rules.exists():
                rules = [
                    OpeningRule(
                        attraction=attraction,
                        weekday=weekday,
                        opens=opens,
                        closes=closes,
                        slot_minutes=minutes,
                        capacity=capacity,
                    )
                    for weekday in spec["weekdays"]
                    for opens, closes, minutes, capacity in spec["hours"]
                ]
                if "weekend_hours" in spec:
                    opens, closes, minutes, capacity = spec["weekend_hours"]
                    rules += [
                        OpeningRule(
                            attraction=attraction,
                            weekday=weekday,
                            opens=opens,
                            closes=closes,
                            slot_minutes=minutes,
                            capacity=capacity,
                        )
                        for weekday in (5, 6)
                    ]
                OpeningRule.objects.bulk_create(rules)
        garden = attractions[0]
        if not garden.closed_days.exists():
            ClosedDay.objects.create(
                attraction=garden, date=today + dt.timedelta(days=20), note="Maintenance (demo)"
            )
            SpecialOpening.objects.create(
                attraction=garden,
                date=today + dt.timedelta(days=10),
                opens=dt.time(18),
                closes=dt.time(21),
                slot_minutes=60,
                capacity=30,
                note="Lantern evening (demo)",
            )
    return generate_slots(days, attractions=attractions)
