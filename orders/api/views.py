"""REST endpoints of the order domain. Views validate input and call orders.services; nothing else writes."""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from channels.models import Channel
from oms.actors import Actor
from oms.api import IdCursorPagination, PlacedAtCursorPagination, RolePermissions
from oms.errors import NotFound
from orders import services
from orders.api import filters as api_filters
from orders.api import serializers as s
from orders.models import Customer, Order, OrderEvent, Product, Shipment, StockLevel, Warehouse

ERRORS = {
    400: OpenApiResponse(s.ErrorSerializer, description="Invalid input (code, message, field)"),
    401: OpenApiResponse(s.ErrorSerializer, description="Not authenticated"),
    403: OpenApiResponse(s.ErrorSerializer, description="The role may not do this"),
    404: OpenApiResponse(s.ErrorSerializer, description="Not found"),
    409: OpenApiResponse(s.ErrorSerializer, description="Refused by the state machine or stock"),
    422: OpenApiResponse(s.ErrorSerializer, description="Idempotency-Key reused for a different request"),
    429: OpenApiResponse(s.ErrorSerializer, description="Throttled"),
}
READ_ERRORS = {code: ERRORS[code] for code in (400, 401, 403, 404, 429)}


class ActionPermission(permissions.BasePermission):
    """Require the permission a view declares for its current action (e.g. ship → orders.ship_order)."""

    def has_permission(self, request, view) -> bool:
        required = getattr(view, "action_permissions", {}).get(view.action)
        return required is None or request.user.has_perm(required)


def actor_for(request) -> Actor:
    """The actor of an API request: a token caller is the API, a session caller is the user."""
    if request.auth is not None:
        return Actor.api(request.user)
    return Actor.for_user(request.user)


@extend_schema_view(
    list=extend_schema(responses={200: s.OrderSerializer(many=True), **READ_ERRORS}),
    retrieve=extend_schema(responses={200: s.OrderDetailSerializer, **READ_ERRORS}),
)
class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Orders: list with filters, detail with lines, payments, shipments and events, and order actions."""

    lookup_field = "number"
    lookup_value_regex = "[^/]+"
    permission_classes = [permissions.IsAuthenticated, RolePermissions, ActionPermission]
    filterset_class = api_filters.OrderFilterSet
    pagination_class = PlacedAtCursorPagination
    action_permissions = {
        "create": "orders.add_order",
        "confirm": "orders.review_order",
        "hold": "orders.hold_order",
        "release": "orders.hold_order",
        "cancel": "orders.cancel_order",
        "ship": "orders.ship_order",
        "pay": "orders.add_payment",
        "note": "orders.change_order",
    }

    def get_queryset(self):
        """Orders with what the serializers show, fetched in a fixed number of queries."""
        queryset = Order.objects.select_related("channel", "warehouse").prefetch_related("tags")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related(
                "lines",
                "payments",
                Prefetch("shipments", queryset=Shipment.objects.prefetch_related("lines__order_line")),
                Prefetch("events", queryset=OrderEvent.objects.order_by("-created_at", "-id")),
            )
        return queryset

    def get_serializer_class(self):
        """Detail serializer for one order, the flat one for lists."""
        return s.OrderDetailSerializer if self.action == "retrieve" else s.OrderSerializer

    def _respond(self, order: Order, http_status: int = status.HTTP_200_OK) -> Response:
        order = (
            self.get_queryset().prefetch_related("lines", "payments", "shipments", "events").get(pk=order.pk)
        )
        return Response(s.OrderDetailSerializer(order).data, status=http_status)

    @extend_schema(request=s.OrderCreateSerializer, responses={201: s.OrderDetailSerializer, **ERRORS})
    def create(self, request):
        """Create a manual order (phone or offline)."""
        data = s.OrderCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        channel = None
        if values.pop("channel", ""):
            channel = Channel.objects.filter(code=request.data["channel"]).first()
            if channel is None:
                raise NotFound(
                    f"unknown channel '{request.data['channel']}'", code="unknown_channel", field="channel"
                )
        lines = [services.LineInput(**line) for line in values.pop("lines")]
        order = services.create_order(
            services.OrderInput(lines=lines, channel=channel, **values), actor=actor_for(request)
        )
        return self._respond(order, status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: s.OrderDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def confirm(self, request, number=None):
        """Approve the order for shipping and reserve its stock."""
        order = self.get_object()
        return self._respond(services.confirm_order(order, actor=actor_for(request)))

    @extend_schema(request=s.HoldSerializer, responses={200: s.OrderDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def hold(self, request, number=None):
        """Put the order on hold with a reason."""
        order = self.get_object()
        data = s.HoldSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._respond(services.hold_order(order, actor=actor_for(request), **data.validated_data))

    @extend_schema(request=s.NoteSerializer, responses={200: s.OrderDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def release(self, request, number=None):
        """Release a hold (finance holds need the finance role)."""
        order = self.get_object()
        data = s.NoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._respond(
            services.release_hold(order, actor=actor_for(request), note=data.validated_data["note"])
        )

    @extend_schema(request=s.ReasonSerializer, responses={200: s.OrderDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def cancel(self, request, number=None):
        """Cancel with a reason; reserved stock is released."""
        order = self.get_object()
        data = s.ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._respond(services.cancel_order(order, actor=actor_for(request), **data.validated_data))

    @extend_schema(request=s.ShipSerializer, responses={200: s.OrderDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def ship(self, request, number=None):
        """Ship all remaining units, or the given lines, with carrier and tracking number."""
        order = self.get_object()
        data = s.ShipSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        quantities = {line["line"]: line["quantity"] for line in data.validated_data.get("lines", [])} or None
        services.ship_order(
            order,
            carrier=data.validated_data["carrier"],
            tracking_number=data.validated_data["tracking_number"],
            quantities=quantities,
            actor=actor_for(request),
        )
        return self._respond(order)

    @extend_schema(request=s.PaymentInputSerializer, responses={200: s.OrderDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def pay(self, request, number=None):
        """Record a payment received for the order."""
        order = self.get_object()
        data = s.PaymentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.record_payment(order, actor=actor_for(request), **data.validated_data)
        return self._respond(order)

    @extend_schema(request=s.NoteSerializer, responses={200: s.OrderDetailSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def note(self, request, number=None):
        """Add a note to the order's timeline."""
        order = self.get_object()
        data = s.NoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.add_note(order, text=data.validated_data["note"], actor=actor_for(request))
        return self._respond(order)


@extend_schema_view(
    list=extend_schema(responses={200: s.ProductSerializer(many=True), **READ_ERRORS}),
    retrieve=extend_schema(responses={200: s.ProductSerializer, **READ_ERRORS}),
    create=extend_schema(responses={201: s.ProductSerializer, **ERRORS}),
    update=extend_schema(responses={200: s.ProductSerializer, **ERRORS}),
    partial_update=extend_schema(responses={200: s.ProductSerializer, **ERRORS}),
)
class ProductViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Products (SKUs)."""

    queryset = Product.objects.all()
    serializer_class = s.ProductSerializer
    lookup_field = "sku"
    lookup_value_regex = "[^/]+"
    permission_classes = [permissions.IsAuthenticated, RolePermissions]
    filterset_class = api_filters.ProductFilterSet
    pagination_class = IdCursorPagination


@extend_schema_view(
    list=extend_schema(responses={200: s.StockLevelSerializer(many=True), **READ_ERRORS}),
    retrieve=extend_schema(responses={200: s.StockLevelSerializer, **READ_ERRORS}),
)
class StockLevelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Stock per SKU and warehouse; adjust with a reason."""

    queryset = StockLevel.objects.select_related("product", "warehouse")
    serializer_class = s.StockLevelSerializer
    permission_classes = [permissions.IsAuthenticated, RolePermissions, ActionPermission]
    filterset_class = api_filters.StockLevelFilterSet
    pagination_class = IdCursorPagination
    action_permissions = {"adjust": "orders.change_stocklevel"}

    @extend_schema(request=s.StockAdjustSerializer, responses={200: s.StockLevelSerializer, **ERRORS})
    @action(detail=False, methods=["post"])
    def adjust(self, request):
        """Receive or write off units of a SKU in a warehouse, with a reason."""
        data = s.StockAdjustSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        level = services.adjust_stock(
            sku=values["sku"],
            warehouse_code=values["warehouse"],
            delta=values["delta"],
            reason=values["reason"],
            actor=actor_for(request),
        )
        return Response(s.StockLevelSerializer(level).data)


@extend_schema_view(
    list=extend_schema(responses={200: s.CustomerSerializer(many=True), **READ_ERRORS}),
    retrieve=extend_schema(responses={200: s.CustomerSerializer, **READ_ERRORS}),
)
class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Deduplicated customers (read-only: customers are created with their orders)."""

    queryset = Customer.objects.all()
    serializer_class = s.CustomerSerializer
    permission_classes = [permissions.IsAuthenticated, RolePermissions]
    pagination_class = IdCursorPagination
    filterset_fields = ["phone", "email"]


@extend_schema_view(
    list=extend_schema(responses={200: s.WarehouseSerializer(many=True), **READ_ERRORS}),
    retrieve=extend_schema(responses={200: s.WarehouseSerializer, **READ_ERRORS}),
)
class WarehouseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Warehouses."""

    queryset = Warehouse.objects.all()
    serializer_class = s.WarehouseSerializer
    lookup_field = "code"
    permission_classes = [permissions.IsAuthenticated, RolePermissions]
    pagination_class = IdCursorPagination


@extend_schema_view(
    list=extend_schema(responses={200: s.ShipmentSerializer(many=True), **READ_ERRORS}),
    retrieve=extend_schema(responses={200: s.ShipmentSerializer, **READ_ERRORS}),
)
class ShipmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Shipments: create (ships an order) and update tracking and logistics status."""

    queryset = Shipment.objects.select_related("order").prefetch_related("lines__order_line")
    serializer_class = s.ShipmentSerializer
    permission_classes = [permissions.IsAuthenticated, RolePermissions, ActionPermission]
    filterset_class = api_filters.ShipmentFilterSet
    pagination_class = IdCursorPagination
    action_permissions = {"create": "orders.ship_order", "partial_update": "orders.ship_order"}

    @extend_schema(request=s.ShipmentCreateSerializer, responses={201: s.ShipmentSerializer, **ERRORS})
    def create(self, request):
        """Ship an order (all remaining units or the given lines)."""
        data = s.ShipmentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        order = Order.objects.filter(number=values["order"]).first()
        if order is None:
            raise NotFound(f"unknown order '{values['order']}'", code="unknown_order", field="order")
        quantities = {line["line"]: line["quantity"] for line in values.get("lines", [])} or None
        shipment = services.ship_order(
            order,
            carrier=values["carrier"],
            tracking_number=values["tracking_number"],
            quantities=quantities,
            actor=actor_for(request),
        )
        return Response(
            s.ShipmentSerializer(self.get_queryset().get(pk=shipment.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=s.ShipmentUpdateSerializer, responses={200: s.ShipmentSerializer, **ERRORS})
    def partial_update(self, request, pk=None):
        """Change carrier, tracking number or logistics status."""
        shipment = self.get_object()
        data = s.ShipmentUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.update_shipment(shipment, actor=actor_for(request), **data.validated_data)
        return Response(s.ShipmentSerializer(self.get_queryset().get(pk=shipment.pk)).data)
