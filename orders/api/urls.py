"""Routes of the order domain's REST API."""

from rest_framework.routers import DefaultRouter

from orders.api import views

router = DefaultRouter()
router.register("orders", views.OrderViewSet, basename="order")
router.register("products", views.ProductViewSet, basename="product")
router.register("stock-levels", views.StockLevelViewSet, basename="stocklevel")
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("warehouses", views.WarehouseViewSet, basename="warehouse")
router.register("shipments", views.ShipmentViewSet, basename="shipment")

urlpatterns = router.urls
