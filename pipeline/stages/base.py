"""What every stage of the pipeline shares: where its dead letters go."""
from __future__ import annotations

from pipeline.cdr.process import Source, dead_letter
from pipeline.kafka.message import Message
from pipeline.kafka.topics import CDR_REJECTED
from pipeline.runtime.checkpoint import Stage
from pipeline.runtime.outputs import Record
from pipeline.settings import Settings


class PipelineStage(Stage):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rejected_topic = settings.topic(CDR_REJECTED)

    def dead_letter(self, message: Message, reason: str, detail: str) -> Record:
        """A message this stage cannot handle, kept on cdr.rejected with its origin, so that it
        can be found and replayed (`replay-rejected --reason internal_error`) once fixed."""
        out = dead_letter(message.key, message.value, Source(message.topic, message.partition, message.offset),
                          reason, detail, self.name)
        return Record(self.rejected_topic, out.key, out.value)
