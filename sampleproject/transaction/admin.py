from django.contrib import admin

from .models import Currency, Invoice, Payment

admin.site.register(Currency)
admin.site.register(Invoice)
admin.site.register(Payment)
