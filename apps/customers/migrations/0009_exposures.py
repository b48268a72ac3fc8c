import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0006_benefit_kinds'),
        ('customers', '0008_profile_answers_and_inferences'),
    ]

    operations = [
        migrations.CreateModel(
            name='Exposure',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('surface', models.CharField(choices=[('page', 'Preference page'), ('reask', 'Re-ask after a material change'), ('leave', "Leave page's offers")], max_length=10)),
                ('shown_at', models.DateTimeField()),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='exposures', to='customers.customer')),
                ('notice_version', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='catalog.noticeversion')),
            ],
            options={
                'indexes': [models.Index(fields=['notice_version', 'shown_at'], name='exposure_version_shown')],
            },
        ),
    ]
