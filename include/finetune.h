/* finetune: fine-tune pretrained deep networks in C. Umbrella header. */
#ifndef FINETUNE_H
#define FINETUNE_H
#include "finetune/core.h"
#include "finetune/params.h"
#include "finetune/graph.h"
#include "finetune/io.h"
#include "finetune/train.h"
#include "finetune/model.h"
#include "finetune/runner.h"
#include "finetune/import.h"
#include "finetune/text.h"
#include "finetune/tasks.h"
#include "finetune/speech.h"
#include "finetune/kws.h"
#include "finetune/audio.h"
#include "finetune/export.h"
#endif
