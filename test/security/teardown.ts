import { printSummary } from './ledger';

export default printSummary;
