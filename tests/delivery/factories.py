import factory

from apps.delivery.adapters.webhook import new_secret
from apps.delivery.models import Destination


class DestinationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Destination

    name = factory.Sequence(lambda n: f"destination-{n}")
    kind = Destination.Kind.WEBHOOK
    endpoint = "http://127.0.0.1:9/hooks"
    secret = factory.LazyFunction(new_secret)
    batch_size = 10
    identifiers = ["external_id", "email"]
