from django.conf import settings
from django.db import models


class CurrencyManager(models.Manager):
    def get_by_natural_key(self, code):
        return self.get(code=code)


class Currency(models.Model):
    code = models.CharField(max_length=3, unique=True)
    name = models.CharField(max_length=50)

    objects = CurrencyManager()

    def natural_key(self):
        return (self.code,)

    def __str__(self):
        return self.code

    class Meta:
        verbose_name_plural = "Currencies"


class Invoice(models.Model):
    """A finflo WORK_MODEL: saving one makes finflo's post_save signal start a workflow."""

    number = models.CharField(max_length=30, unique=True)
    # transaction -> accounts: the other half of the cycle between the two apps.
    party = models.ForeignKey("accounts.Parties", on_delete=models.PROTECT, related_name="invoices")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, blank=True, null=True
    )
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    issued_on = models.DateField()

    def __str__(self):
        return self.number


class Payment(models.Model):
    """Not a work model yet: the "new work model in finflo" runbook adds it to FINFLO["WORK_MODEL"]."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="payments")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    paid_on = models.DateField()

    def __str__(self):
        return f"{self.invoice} / {self.amount}"
