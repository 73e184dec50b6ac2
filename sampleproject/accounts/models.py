from django.contrib.auth.models import AbstractUser
from django.db import models
from finflo.models import Action, Flowmodel


class User(AbstractUser):
    """The project's user model (AUTH_USER_MODEL), which finflo's own migrations depend on."""

    phone = models.CharField(max_length=20, blank=True)


class PartiesManager(models.Manager):
    def get_by_natural_key(self, name):
        return self.get(name=name)


class Parties(models.Model):
    """The parties of a deal: finflo's PARTY_MODEL, so finflo's Action points here."""

    name = models.CharField(max_length=255, unique=True)
    party_type = models.CharField(max_length=50, default="BUYER")
    # accounts -> transaction: with transaction -> accounts below, the two apps depend on each other.
    base_currency = models.ForeignKey(
        "transaction.Currency", on_delete=models.SET_NULL, blank=True, null=True
    )

    objects = PartiesManager()

    def natural_key(self):
        return (self.name,)

    def __str__(self):
        return self.name

    class Meta:
        verbose_name_plural = "Parties"


class userprocessauth(models.Model):
    sign_required = models.IntegerField()
    data_entry = models.BooleanField(default=False, blank=True, null=True)
    sign_a = models.BooleanField(default=False, blank=True, null=True)
    sign_b = models.BooleanField(default=False, blank=True, null=True)
    sign_c = models.BooleanField(default=False, blank=True, null=True)

    user = models.ForeignKey(User, on_delete=models.CASCADE)
    model = models.ForeignKey(Flowmodel, on_delete=models.DO_NOTHING)
    action = models.ForeignKey(Action, on_delete=models.DO_NOTHING)

    def __str__(self):
        return f'{self.model.description.split(".")[1].upper()[:-1]} - {self.action} - {self.user}'

    class Meta:
        verbose_name_plural = "User authorization"
        unique_together = ("action", "user", "model")
        indexes = [
            models.Index(fields=["user"]),
            models.Index(fields=["model"]),
            models.Index(fields=["action"]),
        ]


class PartyAction(Action):

    def __str__(self):
        return self.description

    class Meta:
        proxy = True
        ordering = ['id']
        verbose_name_plural = "Finflo Action"

    @property
    def model_name(self):
        return self.model.description
