from django.shortcuts import render

from ..access import customer_page
from ..models import StaffAccess
from ..selectors import customer_glance


@customer_page("view_customer_data", StaffAccess.What.GLANCE)
def glance(request, customer):
    return render(
        request, "support/customer.html", {"customer": customer, "glance": customer_glance(customer)}
    )
