"""URLs of the channels app, mounted at /channels/."""

from django.urls import path

from channels import views

app_name = "channels"

urlpatterns = [
    path("<slug:code>/webhook/", views.webhook, name="webhook"),
]
