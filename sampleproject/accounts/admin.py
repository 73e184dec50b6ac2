from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import Parties, PartyAction, User, userprocessauth


class ActionModelAdmin(admin.ModelAdmin):
    list_display = ("description", "model", "from_state", "to_state", "sign_required")


admin.site.register(User, UserAdmin)
admin.site.register(Parties)
admin.site.register(userprocessauth)
admin.site.register(PartyAction, ActionModelAdmin)
