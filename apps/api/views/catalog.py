from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from .. import selectors
from .common import ApiView, problems


class ChannelOutput(serializers.Serializer):
    code = serializers.CharField()
    purpose = serializers.CharField()
    label = serializers.DictField(child=serializers.CharField(), help_text="Per language.")  # type: ignore[assignment]  # a field named like a Field attribute
    double_opt_in = serializers.BooleanField()
    supports_quiet_hours = serializers.BooleanField()


class TopicOutput(serializers.Serializer):
    slug = serializers.CharField()
    purpose = serializers.CharField()
    label = serializers.DictField(child=serializers.CharField())  # type: ignore[assignment]  # a field named like a Field attribute
    channels = serializers.SerializerMethodField(help_text="Codes of the channels this topic may use.")
    required = serializers.BooleanField()  # type: ignore[assignment]  # a field named like a Field attribute

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_channels(self, topic) -> list[str]:
        return [channel.code for channel in topic.channels.all()]


class OptionOutput(serializers.Serializer):
    set = serializers.CharField()
    code = serializers.CharField()
    label = serializers.DictField(child=serializers.CharField())  # type: ignore[assignment]  # a field named like a Field attribute
    rank = serializers.IntegerField()
    is_default = serializers.BooleanField()


class NoticeTextOutput(serializers.Serializer):
    language = serializers.CharField()
    what_we_ask = serializers.CharField()
    what_you_get = serializers.CharField()
    what_we_do = serializers.CharField()
    what_we_never_do = serializers.CharField()
    example = serializers.CharField(
        allow_blank=True,
        help_text="A concrete instance of what you get, shown beside it; blank when there is none.",
    )


class NoticeVersionOutput(serializers.Serializer):
    id = serializers.IntegerField(help_text="Pass it as notice_version when recording consent.")
    number = serializers.IntegerField()
    material = serializers.BooleanField()
    published_at = serializers.DateTimeField()
    texts = NoticeTextOutput(many=True)


class NoticeOutput(serializers.Serializer):
    purpose = serializers.CharField()
    title = serializers.DictField(child=serializers.CharField())
    honours_gpc = serializers.BooleanField()
    current_version = NoticeVersionOutput(allow_null=True)


class CatalogApi(ApiView):
    """Channels, topics, option sets and notices with their current versions, to map an integrator's lists."""

    required_scopes = {"GET": "catalog:read"}

    class CatalogOutput(serializers.Serializer):
        channels = ChannelOutput(many=True)
        topics = TopicOutput(many=True)
        options = OptionOutput(many=True)
        notices = NoticeOutput(many=True)

    @extend_schema(operation_id="catalog", responses={200: CatalogOutput, **problems()})
    def get(self, request):
        return Response(self.CatalogOutput(selectors.catalog()).data)
