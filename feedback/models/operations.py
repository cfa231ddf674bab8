"""What the background work has done, for the operator: counted by the workers, read by metrics."""

from django.db import models


class TaskRuns(models.Model):
    """
    How often each Celery task ended each way (succeeded, failed, retried),
    and when it last did: written by every worker on every host at the end of
    each task (feedback.metrics), so one scrape of any web host sees them all.
    """

    task = models.CharField(max_length=100)
    outcome = models.CharField(max_length=10)
    runs = models.BigIntegerField(default=0)
    last_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "outcome"], name="task_runs_key")]
        verbose_name_plural = "task runs"

    def __str__(self) -> str:
        return f"{self.task} {self.outcome}: {self.runs}"
