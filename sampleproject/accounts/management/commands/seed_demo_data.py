"""Fill the database with a realistic, deterministic data set for backup and restore tests.

Users, currencies, parties (some deleted, so ids have gaps), invoices and payments. Each invoice is
saved one by one, so finflo's post_save signal gives it its workflow (a TransitionManager, a
workflowitems and a workevents row) as in production; the rest is bulk-created. The same
``--invoices`` gives the same rows, except the timestamps finflo's models take from the clock.
"""
import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction as db_transaction

from accounts.models import Parties, User
from transaction.models import Currency, Invoice, Payment

CURRENCIES = [("EUR", "Euro"), ("USD", "US Dollar"), ("GBP", "Pound Sterling"),
              ("CHF", "Swiss Franc"), ("JPY", "Yen")]
EPOCH = datetime(2025, 1, 1, 8, 0, tzinfo=timezone.utc)


class Command(BaseCommand):
    help = "Creates demo users, parties, currencies, invoices (with finflo workflows) and payments."

    def add_arguments(self, parser):
        parser.add_argument("--invoices", type=int, default=100, help="How many invoices (default: 100).")
        parser.add_argument("--seed", type=int, default=7, help="Seed of the random amounts (default: 7).")

    def handle(self, *args, invoices, seed, **options):
        if invoices < 1:
            raise CommandError("--invoices must be at least 1.")
        if Invoice.objects.exists():
            raise CommandError("The database already has invoices; seed an empty one.")
        rng = random.Random(seed)
        with db_transaction.atomic():
            counts = self._seed(rng, invoices)
        self.stdout.write(", ".join(f"{n} {label}" for label, n in counts.items()))

    def _seed(self, rng, invoices):
        password = make_password("demo-password", salt="demodemodemo")  # hashed once: fast
        User.objects.bulk_create(
            User(username=f"user{i:04d}", email=f"user{i:04d}@example.com", password=password,
                 first_name=f"Ünïcode-{i}", phone=f"+41 44 {i:07d}",
                 # microseconds on purpose: a backup must keep what the database keeps
                 date_joined=EPOCH + timedelta(days=i, microseconds=123457 * i % 1_000_000),
                 is_staff=i % 10 == 0)
            for i in range(max(2, invoices // 10))
        )
        users = list(User.objects.order_by("id"))
        Currency.objects.bulk_create(Currency(code=c, name=n) for c, n in CURRENCIES)
        currencies = list(Currency.objects.order_by("id"))
        Parties.objects.bulk_create(
            Parties(name=f"Party {i:04d} \"{rng.choice(['Ltd', 'GmbH', 'SA', 'AG'])}\"",
                    party_type=rng.choice(["BUYER", "SELLER"]),
                    base_currency=rng.choice(currencies + [None]))
            for i in range(max(3, invoices // 5))
        )
        # Deleted parties leave gaps in the ids, as in a database that has lived.
        Parties.objects.filter(id__in=list(Parties.objects.order_by("id").values_list("id", flat=True)[::7])).delete()
        parties = list(Parties.objects.order_by("id"))
        for i in range(invoices):
            # One by one: finflo's post_save signal starts each invoice's workflow.
            Invoice.objects.create(
                number=f"INV-{i:06d}", party=rng.choice(parties), currency=rng.choice(currencies),
                created_by=rng.choice(users + [None]),
                amount=Decimal(rng.randrange(1, 10_000_000)) / 100,
                issued_on=date(2025, 1, 1) + timedelta(days=rng.randrange(365)),
            )
        invoice_ids = list(Invoice.objects.order_by("id").values_list("id", flat=True))
        Payment.objects.bulk_create(
            Payment(invoice_id=invoice_id, amount=Decimal(rng.randrange(1, 1_000_000)) / 100,
                    paid_on=date(2025, 6, 1) + timedelta(days=rng.randrange(180)))
            for invoice_id in invoice_ids for _ in range(rng.choice([0, 1, 1, 2, 3]))
        )
        return {
            "users": len(users), "currencies": len(currencies), "parties": len(parties),
            "invoices": len(invoice_ids), "payments": Payment.objects.count(),
        }
