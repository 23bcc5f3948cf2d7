"""URLs of the warehouse page for phones."""

from django.urls import path

from orders import warehouse_views

app_name = "warehouse"
urlpatterns = [
    path("", warehouse_views.warehouse_home, name="home"),
    path("orders/<str:number>/", warehouse_views.warehouse_order, name="order"),
]
